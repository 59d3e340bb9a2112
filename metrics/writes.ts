/**
 * The SQL writes of the metrics store. Each takes an open connection; callers wrap them in
 * `MetricsDb.write` so that they land inside one transaction.
 */
import {
  DOUBLE,
  type DuckDBConnection,
  DuckDBTimestampTZValue,
  LIST,
  listValue,
  VARCHAR,
} from "@duckdb/node-api";
import type { MetricRow, RunInfo } from "./types.ts";

/** What a run's output folder holds for the database: its description, results, samples file. */
export interface RunRecord {
  info: RunInfo;
  results: Record<string, number | null>;
  /** Path of `metrics.jsonl`, or null when the run logged no samples file. */
  metricsPath: string | null;
}

/** A metric value as stored: non-finite numbers become NULL (JSON cannot hold them either). */
export function storedValue(v: number | null): number | null {
  return v === null || !Number.isFinite(v) ? null : v;
}

/** Inserts or replaces the `runs` row of `info.run`. */
export async function upsertRun(con: DuckDBConnection, info: RunInfo): Promise<void> {
  await con.run("DELETE FROM runs WHERE run = $1", [info.run]);
  await con.run(
    `INSERT INTO runs VALUES ($1, $2, $3, $4, $5, $6, $7, $1, $8::JSON, $9, $10, $11,
       $12::TIMESTAMPTZ, $13::TIMESTAMPTZ, $14)`,
    [
      info.run,
      info.experiment,
      info.profile ?? null,
      info.stageId,
      info.kind,
      info.method ?? null,
      info.dataset ?? null,
      JSON.stringify(info.params ?? {}),
      info.backend ?? null,
      info.device ?? null,
      info.gitCommit ?? null,
      info.started ?? null,
      info.finished ?? null,
      info.status ?? "running",
    ],
  );
}

/** Appends metric samples through DuckDB's appender (inside the caller's transaction). */
export async function insertMetrics(con: DuckDBConnection, rows: MetricRow[]): Promise<void> {
  if (rows.length === 0) return;
  const app = await con.createAppender("metrics");
  try {
    for (const r of rows) {
      app.appendVarchar(r.run);
      if (r.step === null) app.appendNull();
      else app.appendBigInt(BigInt(r.step));
      if (r.epoch === null) app.appendNull();
      else app.appendInteger(r.epoch);
      app.appendVarchar(r.name);
      const v = storedValue(r.value);
      if (v === null) app.appendNull();
      else app.appendDouble(v);
      app.appendTimestampTZ(new DuckDBTimestampTZValue(isoToMicros(r.time)));
      app.endRow();
    }
    app.flushSync();
  } finally {
    app.closeSync();
  }
}

function isoToMicros(iso: string): bigint {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new Error(`metric time "${iso}" is not an ISO date`);
  return BigInt(ms) * 1000n;
}

/**
 * Appends the samples of a recorder's `metrics.jsonl` (read by DuckDB itself, so large
 * files ingest fast); fails naming the file when a line is malformed or belongs to another run.
 */
export async function insertMetricsFile(
  con: DuckDBConnection,
  run: string,
  path: string,
): Promise<number> {
  const source = `read_ndjson($1, columns = {run: 'VARCHAR', step: 'BIGINT', epoch: 'INTEGER',
    name: 'VARCHAR', value: 'DOUBLE', time: 'VARCHAR'}, format = 'newline_delimited')`;
  try {
    await con.run(
      `CREATE OR REPLACE TEMP TABLE staged_metrics AS
       SELECT run, step, epoch, name, value, time::TIMESTAMPTZ AS time FROM ${source}`,
      [path],
    );
    const check = await con.runAndReadAll(
      `SELECT count(*), count(*) FILTER (WHERE run IS DISTINCT FROM $1),
              count(*) FILTER (WHERE name IS NULL OR time IS NULL)
       FROM staged_metrics`,
      [run],
    );
    const [total, foreign, incomplete] = check.getRows()[0].map(Number);
    if (foreign > 0) throw new Error(`${foreign} rows belong to another run than ${run}`);
    if (incomplete > 0) throw new Error(`${incomplete} rows lack a name or time`);
    await con.run("INSERT INTO metrics SELECT * FROM staged_metrics");
    return total;
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  } finally {
    await con.run("DROP TABLE IF EXISTS staged_metrics").catch(() => {});
  }
}

/** Replaces all results of `run`. */
export async function replaceResults(
  con: DuckDBConnection,
  run: string,
  results: Record<string, number | null>,
): Promise<void> {
  await con.run("DELETE FROM results WHERE run = $1", [run]);
  const names = Object.keys(results).sort();
  if (names.length === 0) return;
  await con.run(
    "INSERT INTO results SELECT $1, unnest($2), unnest($3)",
    [run, listValue(names), listValue(names.map((n) => storedValue(results[n])))],
    [VARCHAR, LIST(VARCHAR), LIST(DOUBLE)],
  );
}

/** Deletes the samples and results of `run` (its `runs` row stays). */
export async function clearRunData(con: DuckDBConnection, run: string): Promise<void> {
  await con.run("DELETE FROM metrics WHERE run = $1", [run]);
  await con.run("DELETE FROM results WHERE run = $1", [run]);
}

/** Number of samples the database holds for `run`. */
export async function countMetrics(con: DuckDBConnection, run: string): Promise<number> {
  const reader = await con.runAndReadAll("SELECT count(*) FROM metrics WHERE run = $1", [run]);
  return Number(reader.getRows()[0][0]);
}

/** Replaces everything the database holds of `record.info.run` with `record` (idempotent). */
export async function ingestRun(con: DuckDBConnection, record: RunRecord): Promise<void> {
  await clearRunData(con, record.info.run);
  await upsertRun(con, record.info);
  if (record.metricsPath) await insertMetricsFile(con, record.info.run, record.metricsPath);
  await replaceResults(con, record.info.run, record.results);
}
