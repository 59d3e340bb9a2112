/**
 * Reads what an experiment run produced: for every stage instance whose committed output
 * holds evaluation results (`results.json` with `linear_top1_final` or `knn_top1`, as
 * `linear_eval` writes), its method (`run.json`), its seed (the `seed` matrix coordinate, own
 * or inherited, else `run.json`'s `seed`) and its results, from the cache entry named by the run's summary.
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

async function readOptionalJson(path: string, what: string): Promise<unknown> {
  try {
    await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  return await readJson(path, what);
}

/** Collects the evaluation results of a finished run of `exp` from its summary file. */
export async function collectEvalResults(
  exp: Experiment,
  summaryPath: string,
  cache: Cache,
): Promise<EvalResult[]> {
  const summary = await readJson(summaryPath, "run summary") as Summary;
  const out: EvalResult[] = [];
  for (const s of summary.stages) {
    if (s.status !== "ran" && s.status !== "cached") {
      throw new Error(`stage ${s.id} did not finish (status ${s.status})`);
    }
    const dir = cache.objectDir(s.key!);
    const results = await readOptionalJson(`${dir}/results.json`, `results of ${s.id}`) as
      | Record<string, number>
      | null;
    if (!results || !("linear_top1_final" in results || "knn_top1" in results)) continue;
    const run = await readOptionalJson(`${dir}/run.json`, `run record of ${s.id}`) as
      | { method?: string; seed?: number }
      | null;
    const matrix = exp.byId.get(s.id)?.matrix ?? {};
    const method = run?.method ?? (typeof matrix.method === "string" ? matrix.method : s.id);
    out.push({
      id: s.id,
      method,
      seed: typeof matrix.seed === "number"
        ? matrix.seed
        : typeof run?.seed === "number"
        ? run.seed
        : null,
      key: s.key!,
      results,
    });
  }
  if (out.length === 0) {
    throw new Error(
      `experiment ${exp.name} produced no evaluation results to gate (no linear_eval stage?)`,
    );
  }
  return out;
}
