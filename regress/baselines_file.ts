/** Reading `configs/baselines.yaml` with clear errors, and building a new one from a seed sweep. */
import { parse } from "yaml";
import type { Experiment } from "../pipeline/experiment.ts";
import { UsageError } from "../pipeline/errors.ts";
import { Baselines, expectationFrom, type Margin } from "./baselines.ts";
import type { EvalResult } from "./collect.ts";

export type { Baselines };

/** Tolerance = max(FLOOR, SIGMAS x seed std): three sigmas, never tighter than half a point. */
export const SIGMAS = 3;
/** See {@link SIGMAS}. */
export const FLOOR = 0.5;
/** Margins a new baselines file starts with (an existing file's margins are kept). */
export const DEFAULT_MARGINS: Margin[] = [
  { method: "arb", over: "random_init", metric: "linear_top1", min: 10 },
  { method: "arb", over: "random_init", metric: "knn_top1", min: 2 },
];

/** Reads and validates a baselines file; errors name the file and the field. */
export async function readBaselines(path: string): Promise<Baselines> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new UsageError(
        `${path} does not exist: record baselines first with \`deno task regress --update\``,
      );
    }
    throw e;
  }
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (e) {
    throw new UsageError(`${path}: not valid YAML: ${e instanceof Error ? e.message : e}`);
  }
  const r = Baselines.safeParse(raw);
  if (!r.success) {
    const issues = r.error.issues.map((i) =>
      `  ${i.path.join(".") || "(top level)"}: ${i.message}`
    );
    throw new UsageError(
      `${path} is not a valid baselines file:\n${issues.join("\n")}\n` +
        "Fix it, or rewrite it with `deno task regress --update`.",
    );
  }
  return r.data;
}

/** Builds baselines from a run with several seeds per method (at least 3 each). */
export function updatedBaselines(
  exp: Experiment,
  evals: EvalResult[],
  commit: string,
  previous: Baselines | null,
): Baselines {
  const byMethod = new Map<string, EvalResult[]>();
  for (const e of evals) byMethod.set(e.method, [...(byMethod.get(e.method) ?? []), e]);
  const methods: Baselines["methods"] = {};
  let seeds: number[] | null = null;
  for (const [method, runs] of [...byMethod].sort(([a], [b]) => a.localeCompare(b))) {
    runs.sort((a, b) => (a.seed ?? 0) - (b.seed ?? 0));
    const s = runs.map((r) => r.seed);
    if (s.some((x) => x === null) || new Set(s).size < 3) {
      throw new UsageError(
        `--update needs at least 3 seeds per method; ${method} has ${runs.length} run(s) with seeds ${
          s.join(", ")
        }: give the "${exp.profile}" profile of ${exp.displayFile} a seed matrix of 3 or more`,
      );
    }
    if (seeds && seeds.join() !== s.join()) {
      throw new UsageError(`methods were run with different seeds (${seeds} vs ${s})`);
    }
    seeds = s as number[];
    const metric = (name: string) =>
      runs.map((r) => {
        const v = r.results[name];
        if (!Number.isFinite(v)) throw new Error(`${r.id}: results.json has no finite ${name}`);
        return v;
      });
    methods[method] = {
      linear_top1: expectationFrom(metric("linear_top1_final"), SIGMAS, FLOOR),
      knn_top1: expectationFrom(metric("knn_top1"), SIGMAS, FLOOR),
    };
  }
  return Baselines.parse({
    experiment: exp.name,
    profile: null,
    commit,
    updated: new Date().toISOString(),
    seeds: seeds ?? [],
    sigmas: SIGMAS,
    floor: FLOOR,
    methods,
    margins: previous?.margins ?? DEFAULT_MARGINS,
  });
}
