/**
 * Metrics benchmark (`deno task bench metrics`): how fast a recorder streams samples into
 * DuckDB (batched transactions, open-write-close per flush) against writing files only, how
 * fast `metrics rebuild` ingests a cache, and how long rendering a report takes. Wall-clock
 * on whatever machine runs it; on a shared machine, read them as rough.
 */
import { join } from "node:path";
import { MetricsDb } from "../metrics/db.ts";
import { openRecorder } from "../metrics/recorder.ts";
import { rebuildMetricsDb } from "../metrics/rebuild.ts";
import { loadReportData } from "../reports/data.ts";
import { loadPaperTable } from "../reports/paper.ts";
import { writeReport } from "../reports/write.ts";

/** Samples per run: a 1000-epoch pretraining of 195 steps logging loss and lr per step. */
const STEPS = 195_000;

async function recordRun(dir: string, run: string, dbPath: string | null, epochs = 1000) {
  await Deno.mkdir(dir, { recursive: true });
  const rec = await openRecorder(dir, {
    run,
    experiment: "bench",
    profile: null,
    stageId: `train[method=${run}]`,
    kind: "pretrain",
    method: run,
    dataset: "cifar100",
    params: {},
  }, { dbPath });
  const perEpoch = STEPS / epochs;
  for (let step = 0; step < STEPS; step++) {
    const epoch = Math.floor(step / perEpoch);
    rec.log("loss", 1 / (step + 1), { step, epoch });
    rec.log("lr", 0.3, { step, epoch });
    // The trainer yields to the event loop between steps; so does the benchmark.
    if (step % 1000 === 999) await new Promise((r) => setTimeout(r, 0));
  }
  await rec.close("ok");
}

/** Runs the metrics benchmark and prints one line per figure. */
export async function benchMetrics(): Promise<Record<string, number>> {
  const tmp = await Deno.makeTempDir({ prefix: "arb-bench-metrics-" });
  try {
    const samples = 2 * STEPS;
    let t = performance.now();
    await recordRun(join(tmp, "files-only"), "files", null);
    const filesS = (performance.now() - t) / 1000;

    const live = join(tmp, "live.duckdb");
    t = performance.now();
    await recordRun(join(tmp, "cache/objects/arb"), "arb", live);
    const streamS = (performance.now() - t) / 1000;

    t = performance.now();
    const summary = await rebuildMetricsDb({
      cacheDir: join(tmp, "cache"),
      dbPath: join(tmp, "rebuilt.duckdb"),
    });
    const rebuildS = (performance.now() - t) / 1000;

    t = performance.now();
    const db = MetricsDb.shared(live);
    const data = await loadReportData(db, { experiment: "bench" }, await loadPaperTable());
    await writeReport(join(tmp, "report"), data);
    const reportS = (performance.now() - t) / 1000;

    const figures = {
      files_only_samples_per_s: samples / filesS,
      streaming_samples_per_s: samples / streamS,
      rebuild_samples_per_s: summary.metrics / rebuildS,
      report_seconds: reportS,
    };
    console.log(`recorder, files only:        ${fmt(figures.files_only_samples_per_s)} samples/s`);
    console.log(`recorder, streaming to DuckDB: ${fmt(figures.streaming_samples_per_s)} samples/s`);
    console.log(
      `metrics rebuild:             ${fmt(figures.rebuild_samples_per_s)} samples/s ` +
        `(${summary.metrics} samples)`,
    );
    console.log(`report from ${samples} samples: ${reportS.toFixed(2)} s`);
    return figures;
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

function fmt(x: number): string {
  return Math.round(x).toLocaleString("en-US");
}

if (import.meta.main) await benchMetrics();
