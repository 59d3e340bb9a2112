/**
 * The stage-facing metrics API. A stage opens a recorder on its output folder; every metric
 * is appended to `metrics.jsonl` there (so a cached output keeps its numbers and the
 * database can be rebuilt from the cache), final numbers go to `results.json`, and the run's
 * description to `run.json`. While the stage runs, each flushed batch of samples is also
 * committed to the metrics database in one transaction; on close the run's row and results
 * are written and the database's copy is checked against the files (and re-ingested from
 * them if a batch was missed). The files are the truth: a database that cannot be written
 * costs a warning, never the stage.
 */
import { writeJsonAtomic } from "../pipeline/atomic.ts";
import { MetricsDb, metricsDbPath } from "./db.ts";
import { fileURLToPath } from "node:url";
import { readRunFiles } from "./files.ts";
import { gitCommit } from "./git.ts";
import { METRIC_FILES, type MetricRow, type RunInfo } from "./types.ts";
import {
  clearRunData,
  countMetrics,
  ingestRun,
  insertMetrics,
  replaceResults,
  upsertRun,
} from "./writes.ts";

export { METRIC_FILES };
export type { MetricRow, RunInfo };

/** Records metrics of one stage run. */
export interface Recorder {
  /** Appends one sample (buffered; flushed periodically and on close). */
  log(name: string, value: number, at?: { step?: number; epoch?: number }): void;
  /** Sets a final result (e.g. `top1_final`); the last value for a name wins. */
  result(name: string, value: number): void;
  /** Adds facts learnt while running (e.g. backend, device). */
  update(info: Partial<RunInfo>): void;
  /** Flushes buffered samples to disk (and the database) now. */
  flush(): Promise<void>;
  /** Flushes and writes `results.json` and `run.json` with the final status. */
  close(status: "ok" | "failed"): Promise<void>;
}

/** Where a recorder streams to besides its files. */
export interface RecorderOptions {
  /** Database file; `null` writes files only. Default: `metricsDbPath(cacheDir)`. */
  dbPath?: string | null;
  /** Cache root used for the default database path (the stage's `ctx.cacheDir`). */
  cacheDir?: string;
  /** Samples buffered before a flush is forced (default 1000). */
  batchSize?: number;
  /** Milliseconds between periodic flushes (default 5000). */
  flushIntervalMs?: number;
  /** Warnings about the database (default: stderr). */
  warn?: (message: string) => void;
}

/**
 * Opens a recorder writing into `outDir`.
 *
 * @example
 * const rec = await openRecorder(ctx.outDir, { run: ctx.key, experiment: ctx.experiment, ... });
 * rec.log("loss", 0.5, { step: 1, epoch: 0 });
 * await rec.close("ok");
 */
export async function openRecorder(
  outDir: string,
  info: RunInfo,
  options: RecorderOptions = {},
): Promise<Recorder> {
  const runInfo: RunInfo = {
    ...info,
    // The commit of the code that runs (this repository), unless the stage knows better.
    gitCommit: info.gitCommit ?? await gitCommit(fileURLToPath(new URL("..", import.meta.url))),
    started: info.started ?? new Date().toISOString(),
    status: "running",
  };
  if (runInfo.gitCommit === undefined) delete runInfo.gitCommit;
  const warn = options.warn ?? ((m: string) => console.error(m));
  const batchSize = options.batchSize ?? 1000;
  const dbPath = options.dbPath === undefined ? metricsDbPath(options.cacheDir) : options.dbPath;
  const db = dbPath === null ? null : MetricsDb.shared(dbPath);
  // Once a database write fails, streaming stops; close() re-ingests the whole run from files.
  let streaming = db !== null;
  const dbFailed = (e: unknown) => {
    if (streaming) {
      warn(
        `metrics: database write failed (${(e as Error).message ?? e}); samples stay in ` +
          `${outDir}/${METRIC_FILES.metrics} and reach the database when the stage closes ` +
          `or on \`deno task metrics rebuild\``,
      );
    }
    streaming = false;
  };

  if (db) {
    // A crashed earlier attempt with the same key may have left samples: start clean.
    await db.write(async (con) => {
      await clearRunData(con, runInfo.run);
      await upsertRun(con, runInfo);
    }).catch(dbFailed);
  }

  const results: Record<string, number> = {};
  let buffer: MetricRow[] = [];
  let fileRows = 0;
  const file = await Deno.open(`${outDir}/${METRIC_FILES.metrics}`, { create: true, append: true });
  const enc = new TextEncoder();
  let closed = false;
  let fileError: Error | null = null;

  const writeBuffered = async () => {
    if (buffer.length === 0) return;
    const rows = buffer;
    buffer = [];
    const bytes = enc.encode(rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
    let off = 0;
    while (off < bytes.length) off += await file.write(bytes.subarray(off));
    fileRows += rows.length;
    if (db && streaming) await db.write((con) => insertMetrics(con, rows)).catch(dbFailed);
  };
  // Flushes are chained so concurrent calls never interleave their writes.
  let pending: Promise<void> = Promise.resolve();
  const flush = () => (pending = pending.then(writeBuffered).catch((e) => {
    fileError ??= e;
  }));
  const timer = setInterval(() => void flush(), options.flushIntervalMs ?? 5000);
  Deno.unrefTimer(timer);

  return {
    log(name, value, at = {}) {
      if (closed) throw new Error(`metrics recorder for ${runInfo.stageId} is closed`);
      for (const [k, v] of Object.entries(at)) {
        if (v !== undefined && !Number.isSafeInteger(v)) {
          throw new Error(`metric ${name}: ${k} must be an integer, got ${v}`);
        }
      }
      buffer.push({
        run: runInfo.run,
        step: at.step ?? null,
        epoch: at.epoch ?? null,
        name,
        value,
        time: new Date().toISOString(),
      });
      if (buffer.length >= batchSize) void flush();
    },
    result(name, value) {
      results[name] = value;
    },
    update(extra) {
      Object.assign(runInfo, extra);
    },
    async flush() {
      await flush();
      if (fileError) throw fileError;
    },
    async close(status) {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      await flush();
      file.close();
      if (fileError) throw fileError;
      runInfo.finished = new Date().toISOString();
      runInfo.status = status;
      await writeJsonAtomic(`${outDir}/${METRIC_FILES.results}`, results);
      await writeJsonAtomic(`${outDir}/${METRIC_FILES.run}`, runInfo);
      if (db) {
        await db.write(async (con) => {
          if (streaming && (await countMetrics(con, runInfo.run)) === fileRows) {
            await upsertRun(con, runInfo);
            await replaceResults(con, runInfo.run, results);
          } else {
            await ingestRun(con, await readRunFiles(outDir));
          }
        }).catch((e) => {
          streaming = true; // so the warning is printed even after an earlier one
          dbFailed(e);
        });
      }
    },
  };
}
