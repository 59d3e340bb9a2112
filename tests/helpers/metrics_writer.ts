/**
 * A separate process that writes to a metrics database, for the concurrency and crash tests
 * in `tests/metrics_test.ts`.
 *
 *   metrics_writer.ts batches DB RUN BATCHES ROWS   commits BATCHES transactions of ROWS samples
 *                                                   (epoch = batch index), printing "inside i" after its first
 *                                                   statement and "committed i" after commit
 *   metrics_writer.ts hold DB RUN MS                 holds the database inside one open
 *                                                   transaction for MS ms, printing "holding"
 */
import { MetricsDb } from "../../metrics/db.ts";
import { insertMetrics, upsertRun } from "../../metrics/writes.ts";
import type { MetricRow } from "../../metrics/types.ts";

const [mode, dbPath, run, a, b] = Deno.args;
const db = MetricsDb.shared(dbPath);

function rows(batch: number, n: number): MetricRow[] {
  const time = new Date().toISOString();
  return Array.from({ length: n }, (_, i) => ({
    run,
    step: batch * n + i,
    epoch: batch,
    name: "loss",
    value: batch + i / n,
    time,
  }));
}

const info = { run, experiment: "t", profile: null, stageId: run, kind: "test", params: {} };
if (mode === "batches") {
  const batches = Number(a);
  const perBatch = Number(b);
  await db.write((con) => upsertRun(con, info));
  for (let i = 0; i < batches; i++) {
    // Several statements per transaction, so a kill between them would show a partial batch.
    const batch = rows(i, perBatch);
    await db.write(async (con) => {
      for (let off = 0; off < batch.length; off += 500) {
        await insertMetrics(con, batch.slice(off, off + 500));
        if (off === 0) console.log(`inside ${i}`); // first statement done, commit still ahead
      }
    });
    console.log(`committed ${i}`);
  }
} else if (mode === "hold") {
  await db.write(async (con) => {
    await upsertRun(con, info);
    await insertMetrics(con, rows(0, 10));
    console.log("holding");
    await new Promise((r) => setTimeout(r, Number(a)));
  });
  console.log("released");
} else {
  console.error(`unknown mode ${mode}`);
  Deno.exit(2);
}
