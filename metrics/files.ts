/**
 * Reads what a recorder wrote into a stage output folder (`run.json`, `results.json`,
 * `metrics.jsonl`) back into a `RunRecord`, validating every line, so the database can be
 * rebuilt from the cache.
 */
import { z } from "zod";
import { METRIC_FILES, type MetricRow } from "./types.ts";
import type { RunRecord } from "./writes.ts";

const RunInfoSchema = z.object({
  run: z.string().min(1),
  experiment: z.string(),
  profile: z.string().nullable(),
  stageId: z.string(),
  kind: z.string(),
  method: z.string().optional(),
  dataset: z.string().optional(),
  params: z.record(z.unknown()),
  backend: z.string().optional(),
  device: z.string().optional(),
  gitCommit: z.string().optional(),
  started: z.string().optional(),
  finished: z.string().optional(),
  status: z.enum(["running", "ok", "failed"]).optional(),
});

const MetricRowSchema = z.object({
  run: z.string(),
  step: z.number().int().nullable(),
  epoch: z.number().int().nullable(),
  name: z.string(),
  value: z.number().nullable(),
  time: z.string(),
});

const ResultsSchema = z.record(z.number().nullable());

/** True when `dir` holds a recorder's `run.json`. */
export async function hasRunFiles(dir: string): Promise<boolean> {
  try {
    return (await Deno.stat(`${dir}/${METRIC_FILES.run}`)).isFile;
  } catch {
    return false;
  }
}

/** Reads and validates `run.json` and `results.json` in `dir`; samples stay in their file. */
export async function readRunFiles(dir: string): Promise<RunRecord> {
  const runPath = `${dir}/${METRIC_FILES.run}`;
  const info = parseFile(RunInfoSchema, await readJson(runPath), runPath);
  const resultsPath = `${dir}/${METRIC_FILES.results}`;
  const results = (await exists(resultsPath))
    ? parseFile(ResultsSchema, await readJson(resultsPath), resultsPath)
    : {};
  const metricsPath = `${dir}/${METRIC_FILES.metrics}`;
  return { info, results, metricsPath: (await exists(metricsPath)) ? metricsPath : null };
}

/** Reads every sample of a `metrics.jsonl`, validating each line (errors name file:line). */
export async function readMetricRows(path: string): Promise<MetricRow[]> {
  const rows: MetricRow[] = [];
  const lines = (await Deno.readTextFile(path)).split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === "") continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(lines[i]);
    } catch (e) {
      throw new Error(`${path}:${i + 1}: not a JSON line (${(e as Error).message})`);
    }
    const row = MetricRowSchema.safeParse(parsed);
    if (!row.success) {
      const issue = row.error.issues[0];
      throw new Error(`${path}:${i + 1}: field ${issue.path.join(".")}: ${issue.message}`);
    }
    rows.push({ ...row.data, value: row.data.value ?? NaN });
  }
  return rows;
}

function parseFile<S extends z.ZodTypeAny>(schema: S, data: unknown, path: string): z.output<S> {
  const parsed = schema.safeParse(data);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new Error(`${path}: field ${issue.path.join(".") || "(root)"}: ${issue.message}`);
}

async function readJson(path: string): Promise<unknown> {
  const text = await Deno.readTextFile(path);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
