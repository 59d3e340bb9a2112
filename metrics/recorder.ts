/**
 * The stage-facing metrics API. A stage opens a recorder on its output folder; every metric
 * is appended to `metrics.jsonl` there (so a cached output keeps its numbers and the
 * database can be rebuilt from the cache), final numbers go to `results.json`, and the run's
 * description to `run.json`.
 */

/** Describes one stage run; `run` is the stage instance's cache key. */
export interface RunInfo {
  run: string;
  experiment: string;
  profile: string | null;
  stageId: string;
  kind: string;
  method?: string;
  dataset?: string;
  params: Record<string, unknown>;
  backend?: string;
  device?: string;
  gitCommit?: string;
  started?: string;
  finished?: string;
  status?: "running" | "ok" | "failed";
}

/** One metric sample as stored in `metrics.jsonl`. */
export interface MetricRow {
  run: string;
  step: number | null;
  epoch: number | null;
  name: string;
  value: number;
  time: string;
}

/** Records metrics of one stage run. */
export interface Recorder {
  /** Appends one sample (buffered; flushed periodically and on close). */
  log(name: string, value: number, at?: { step?: number; epoch?: number }): void;
  /** Sets a final result (e.g. `top1_final`); the last value for a name wins. */
  result(name: string, value: number): void;
  /** Adds facts learnt while running (e.g. backend, device). */
  update(info: Partial<RunInfo>): void;
  /** Flushes buffered samples to disk now. */
  flush(): Promise<void>;
  /** Flushes and writes `results.json` and `run.json` with the final status. */
  close(status: "ok" | "failed"): Promise<void>;
}

/** File names a recorder writes inside a stage output folder. */
export const METRIC_FILES = { metrics: "metrics.jsonl", results: "results.json", run: "run.json" };

/**
 * Opens a recorder writing into `outDir`.
 *
 * @example
 * const rec = await openRecorder(ctx.outDir, { run: ctx.key, experiment: ctx.experiment, ... });
 * rec.log("loss", 0.5, { step: 1, epoch: 0 });
 * await rec.close("ok");
 */
export async function openRecorder(outDir: string, info: RunInfo): Promise<Recorder> {
  const runInfo: RunInfo = {
    ...info,
    started: info.started ?? new Date().toISOString(),
    status: "running",
  };
  const results: Record<string, number> = {};
  let buffer: MetricRow[] = [];
  const file = await Deno.open(`${outDir}/${METRIC_FILES.metrics}`, { create: true, append: true });
  const enc = new TextEncoder();
  let closed = false;

  const writeBuffered = async () => {
    if (buffer.length === 0) return;
    const text = buffer.map((r) => JSON.stringify(r)).join("\n") + "\n";
    buffer = [];
    const bytes = enc.encode(text);
    let off = 0;
    while (off < bytes.length) off += await file.write(bytes.subarray(off));
  };
  // Flushes are chained so concurrent calls never interleave their writes.
  let pending: Promise<void> = Promise.resolve();
  const flush = () => (pending = pending.then(writeBuffered));
  const timer = setInterval(() => void flush(), 5000);
  Deno.unrefTimer(timer);

  return {
    log(name, value, at = {}) {
      if (closed) throw new Error(`metrics recorder for ${runInfo.stageId} is closed`);
      buffer.push({
        run: runInfo.run,
        step: at.step ?? null,
        epoch: at.epoch ?? null,
        name,
        value,
        time: new Date().toISOString(),
      });
      if (buffer.length >= 1000) void flush();
    },
    result(name, value) {
      results[name] = value;
    },
    update(extra) {
      Object.assign(runInfo, extra);
    },
    flush,
    async close(status) {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      await flush();
      file.close();
      runInfo.finished = new Date().toISOString();
      runInfo.status = status;
      await writeJsonAtomic(`${outDir}/${METRIC_FILES.results}`, results);
      await writeJsonAtomic(`${outDir}/${METRIC_FILES.run}`, runInfo);
    },
  };
}

async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}`;
  await Deno.writeTextFile(tmp, JSON.stringify(value, null, 2) + "\n");
  await Deno.rename(tmp, path);
}
