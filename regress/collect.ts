/**
 * Reads what an experiment run produced: for every `linear_eval` instance, its method, its
 * seed (the `seed` matrix coordinate, own or inherited) and its results, from the committed
 * cache entry named by the run's summary.
 */
import type { Experiment } from "../pipeline/experiment.ts";
import type { Cache } from "../pipeline/cache.ts";

/** One evaluated encoder of the run. */
export interface EvalResult {
  id: string;
  method: string;
  seed: number | null;
  key: string;
  results: Record<string, number>;
}

/** The `--summary-json` file the engine writes. */
interface Summary {
  stages: { id: string; kind: string; status: string; key: string | null }[];
}

async function readJson(path: string, what: string): Promise<unknown> {
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new Error(`cannot read ${what} ${path}: ${e instanceof Error ? e.message : e}`);
  }
}

/** Collects the linear_eval results of a finished run of `exp` from its summary file. */
export async function collectEvalResults(
  exp: Experiment,
  summaryPath: string,
  cache: Cache,
): Promise<EvalResult[]> {
  const summary = await readJson(summaryPath, "run summary") as Summary;
  const out: EvalResult[] = [];
  for (const s of summary.stages) {
    if (s.kind !== "linear_eval") continue;
    if (!s.key || (s.status !== "ran" && s.status !== "cached")) {
      throw new Error(`stage ${s.id} did not produce results (status ${s.status})`);
    }
    const dir = cache.objectDir(s.key);
    const run = await readJson(`${dir}/run.json`, `run record of ${s.id}`) as { method?: string };
    const results = await readJson(`${dir}/results.json`, `results of ${s.id}`) as Record<
      string,
      number
    >;
    const seed = exp.byId.get(s.id)?.matrix.seed;
    out.push({
      id: s.id,
      method: run.method ?? s.id,
      seed: typeof seed === "number" ? seed : null,
      key: s.key,
      results,
    });
  }
  if (out.length === 0) throw new Error(`experiment ${exp.name} has no linear_eval stage to gate`);
  return out;
}
