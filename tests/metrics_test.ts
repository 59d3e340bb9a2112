/**
 * The metrics store on a real DuckDB file and real processes: schema, batched streaming
 * writes, crash consistency under SIGKILL, two concurrent writers, rebuild from files.
 */
import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "./assert.ts";
import { MetricsDb } from "../metrics/db.ts";
import { openRecorder, type RunInfo } from "../metrics/recorder.ts";
import { findRunDirs, ingestRunDirs, rebuildMetricsDb } from "../metrics/rebuild.ts";
import { readMetricRows, readRunFiles } from "../metrics/files.ts";

const HELPER = new URL("./helpers/metrics_writer.ts", import.meta.url).pathname;

async function query(dbPath: string, sql: string): Promise<unknown[][]> {
  return await MetricsDb.shared(dbPath).read(async (con) =>
    (await con.runAndReadAll(sql)).getRowsJson()
  );
}

function info(run: string, extra: Partial<RunInfo> = {}): RunInfo {
  return {
    run,
    experiment: "exp",
    profile: null,
    stageId: `eval[method=${run}]`,
    kind: "linear_eval",
    method: run,
    dataset: "toy",
    params: { epochs: 3, lr: 0.1 },
    ...extra,
  };
}

/** Records a small run into `<cache>/objects/<run>/` with streaming on. */
async function recordRun(cache: string, dbPath: string, run: string, samples: number) {
  const dir = `${cache}/objects/${run}`;
  await Deno.mkdir(dir, { recursive: true });
  const rec = await openRecorder(dir, info(run), { dbPath, batchSize: 7 });
  for (let i = 0; i < samples; i++) rec.log("loss", 1 / (i + 1), { step: i, epoch: i % 3 });
  rec.log("lr", NaN, { step: samples });
  rec.result("linear_top1_final", 50 + samples);
  rec.update({ backend: "cpu", device: "test" });
  await rec.close("ok");
  return dir;
}

const DUMP = {
  runs: "SELECT * EXCLUDE (params), params::VARCHAR FROM runs ORDER BY run",
  metrics: "SELECT * FROM metrics ORDER BY run, step, name",
  results: "SELECT * FROM results ORDER BY run, name",
};

async function dump(dbPath: string) {
  const out: Record<string, unknown[][]> = {};
  for (const [k, sql] of Object.entries(DUMP)) out[k] = await query(dbPath, sql);
  return out;
}

Deno.test("schema: tables and views with the issue's columns", async () => {
  const tmp = await Deno.makeTempDir();
  const dbPath = `${tmp}/m.duckdb`;
  await recordRun(tmp, dbPath, "a", 3);
  const cols = await query(
    dbPath,
    `SELECT table_name, string_agg(column_name, ',' ORDER BY ordinal_position)
     FROM information_schema.columns WHERE table_schema = 'main' GROUP BY 1 ORDER BY 1`,
  );
  assertEquals(cols, [
    ["latest_results", "experiment,profile,kind,method,dataset,stage_id,run,finished,name,value"],
    [
      "latest_runs",
      "run,experiment,profile,stage_id,kind,method,dataset,cache_key,params,backend,device," +
      "git_commit,started,finished,status",
    ],
    ["metrics", "run,step,epoch,name,value,time"],
    ["results", "run,name,value"],
    [
      "runs",
      "run,experiment,profile,stage_id,kind,method,dataset,cache_key,params,backend,device," +
      "git_commit,started,finished,status",
    ],
  ]);
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("recorder streams batches into DuckDB while running, files match", async () => {
  const tmp = await Deno.makeTempDir();
  const dbPath = `${tmp}/m.duckdb`;
  const rec = await openRecorder(tmp, info("live"), { dbPath, batchSize: 10 });
  assertEquals(await query(dbPath, "SELECT status FROM runs"), [["running"]]);
  for (let i = 0; i < 25; i++) rec.log("loss", i, { step: i });
  await rec.flush();
  // Streamed before close: all 25 samples, no results yet.
  assertEquals(await query(dbPath, "SELECT count(*)::INT, sum(value) FROM metrics"), [[25, 300]]);
  assertEquals(await query(dbPath, "SELECT count(*)::INT FROM results"), [[0]]);
  rec.result("knn_top1", 12.5);
  await rec.close("ok");
  assertEquals(await query(dbPath, "SELECT status, cache_key FROM runs"), [["ok", "live"]]);
  // The recorder notes the commit of the code that ran (this repository's HEAD).
  const [[commit]] = await query(dbPath, "SELECT git_commit FROM runs");
  assert(/^[0-9a-f]{40}(-dirty)?$/.test(String(commit)), `git commit recorded: ${commit}`);
  assertEquals(await query(dbPath, "SELECT name, value FROM results"), [["knn_top1", 12.5]]);
  const rows = await readMetricRows(`${tmp}/metrics.jsonl`);
  assertEquals(rows.map((r) => r.value), Array.from({ length: 25 }, (_, i) => i));
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("a re-run of the same key replaces the crashed attempt's samples", async () => {
  const tmp = await Deno.makeTempDir();
  const dbPath = `${tmp}/m.duckdb`;
  const crashed = await openRecorder(`${tmp}`, info("k"), { dbPath, batchSize: 5 });
  for (let i = 0; i < 12; i++) crashed.log("loss", i, { step: i });
  await crashed.flush(); // never closed: the process "died"
  const out2 = `${tmp}/second`;
  await Deno.mkdir(out2);
  const rec = await openRecorder(out2, info("k"), { dbPath });
  rec.log("loss", 99, { step: 0 });
  await rec.close("ok");
  assertEquals(await query(dbPath, "SELECT step::INT, value FROM metrics"), [[0, 99]]);
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("close re-ingests from files when the database lost streamed samples", async () => {
  const tmp = await Deno.makeTempDir();
  const dbPath = `${tmp}/m.duckdb`;
  const rec = await openRecorder(tmp, info("lost"), { dbPath, batchSize: 4 });
  for (let i = 0; i < 10; i++) rec.log("loss", i, { step: i });
  await rec.flush();
  // A rebuild from an empty cache runs meanwhile and empties the database.
  await rebuildMetricsDb({ cacheDir: `${tmp}/empty-cache`, dbPath });
  assertEquals(await query(dbPath, "SELECT count(*)::INT FROM metrics"), [[0]]);
  rec.log("loss", 10, { step: 10 });
  await rec.close("ok");
  assertEquals(await query(dbPath, "SELECT count(*)::INT, sum(value) FROM metrics"), [[11, 55]]);
  assertEquals(await query(dbPath, "SELECT status FROM runs"), [["ok"]]);
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("rebuild from the cache equals the live database, and ingest is idempotent", async () => {
  const tmp = await Deno.makeTempDir();
  const live = `${tmp}/live.duckdb`;
  const cache = `${tmp}/cache`;
  for (const [run, n] of [["r1", 20], ["r2", 3], ["r3", 0]] as const) {
    await recordRun(cache, live, run, n);
  }
  const rebuilt = `${tmp}/rebuilt.duckdb`;
  const summary = await rebuildMetricsDb({ cacheDir: cache, dbPath: rebuilt });
  assertEquals([summary.runs, summary.metrics, summary.results], [3, 26, 3]);
  const a = await dump(live);
  assertEquals(a.metrics.length, 26);
  assertEquals(await dump(rebuilt), a);
  // Ingesting the same folders again, and rebuilding again, changes nothing.
  await ingestRunDirs(MetricsDb.shared(rebuilt), await findRunDirs(cache));
  await rebuildMetricsDb({ cacheDir: cache, dbPath: rebuilt });
  assertEquals(await dump(rebuilt), a);
  // The view picks the newest ok run per experiment/profile/kind/method/dataset.
  assertEquals(
    await query(live, "SELECT method, name, value FROM latest_results ORDER BY method"),
    [["r1", "linear_top1_final", 70], ["r2", "linear_top1_final", 53], [
      "r3",
      "linear_top1_final",
      50,
    ]],
  );
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("latest_results prefers the newest ok run and ignores failed ones", async () => {
  const tmp = await Deno.makeTempDir();
  const dbPath = `${tmp}/m.duckdb`;
  const runs: [string, "ok" | "failed", number][] = [["old", "ok", 1], ["new", "ok", 2], [
    "bad",
    "failed",
    3,
  ]];
  for (const [run, status, v] of runs) {
    const dir = `${tmp}/${run}`;
    await Deno.mkdir(dir);
    const rec = await openRecorder(dir, info(run, { method: "arb" }), { dbPath });
    rec.result("linear_top1_final", v);
    await rec.close(status);
  }
  assertEquals(await query(dbPath, "SELECT run, value FROM latest_results"), [["new", 2]]);
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("bad recorder files name the file and line", async () => {
  const tmp = await Deno.makeTempDir();
  const rec = await openRecorder(tmp, info("x"), { dbPath: null });
  rec.log("loss", 1, { step: 0 });
  assertThrows(() => rec.log("loss", 1, { step: 0.5 }), "metric loss: step must be an integer");
  await rec.close("ok");
  await Deno.writeTextFile(`${tmp}/metrics.jsonl`, '{"oops"\n', { append: true });
  await assertRejects(() => readMetricRows(`${tmp}/metrics.jsonl`), "metrics.jsonl:2: not a JSON");
  // The database ingest (DuckDB reads the file itself) names the file too.
  await assertRejects(
    () => ingestRunDirs(MetricsDb.shared(`${tmp}/m.duckdb`), [tmp]),
    "metrics.jsonl: Invalid Input Error: Malformed JSON",
  );
  await Deno.writeTextFile(`${tmp}/run.json`, JSON.stringify({ run: "x" }));
  await assertRejects(() => readRunFiles(tmp), "run.json: field experiment");
  await Deno.remove(tmp, { recursive: true });
});

function spawnWriter(args: string[]) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", HELPER, ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Resolves with everything read so far once a stdout line satisfies `until`. */
async function readUntil(stream: ReadableStream<Uint8Array>, until: (line: string) => boolean) {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
    if (text.split("\n").some(until)) break;
  }
  return { text, reader };
}

async function drain(reader: ReadableStreamDefaultReader<string>) {
  while (!(await reader.read()).done);
}

Deno.test("SIGKILL inside a transaction leaves only whole transactions", async () => {
  const tmp = await Deno.makeTempDir();
  const dbPath = `${tmp}/m.duckdb`;
  // 40 statements of 500 rows per transaction: the kill lands after the first statement of
  // batch 3 and long before its commit.
  const perBatch = 20_000;
  const child = spawnWriter(["batches", dbPath, "crash", "100", String(perBatch)]);
  const { text, reader } = await readUntil(child.stdout, (l) => l === "inside 3");
  child.kill("SIGKILL");
  await reader.cancel();
  await child.stderr.cancel();
  const status = await child.status;
  assertEquals(status.signal, "SIGKILL", `writer output: ${text}`);
  assert(!text.includes("committed 3"), "the kill must land before batch 3 commits");
  // The database opens (WAL replayed) and holds batches 0-2 whole, nothing of batch 3.
  const perEpoch = await query(
    dbPath,
    "SELECT epoch, count(*)::INT, count(DISTINCT step)::INT FROM metrics GROUP BY epoch ORDER BY epoch",
  );
  assertEquals(perEpoch, [0, 1, 2].map((e) => [e, perBatch, perBatch]));
  assertEquals(await query(dbPath, "SELECT run, status FROM runs"), [["crash", "running"]]);
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("two writer processes at once: the second waits with a message, both succeed", async () => {
  const tmp = await Deno.makeTempDir();
  const dbPath = `${tmp}/m.duckdb`;
  const holder = spawnWriter(["hold", dbPath, "holder", "1500"]);
  const held = await readUntil(holder.stdout, (l) => l === "holding");
  const waiter = spawnWriter(["batches", dbPath, "waiter", "3", "100"]);
  const [hStderr, hStatus, w] = await Promise.all([
    new Response(holder.stderr).text(),
    drain(held.reader).then(() => holder.status),
    waiter.output(),
  ]);
  const dec = new TextDecoder();
  assertEquals(hStatus.code, 0, hStderr);
  assertEquals(w.code, 0, dec.decode(w.stderr));
  assertStringIncludes(
    dec.decode(w.stderr),
    "waiting for metrics database lock held by another process",
  );
  assertEquals(
    await query(dbPath, "SELECT run, count(*)::INT FROM metrics GROUP BY run ORDER BY run"),
    [["holder", 10], ["waiter", 300]],
  );
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("two processes streaming concurrently both land every sample", async () => {
  const tmp = await Deno.makeTempDir();
  const dbPath = `${tmp}/m.duckdb`;
  const kids = ["p1", "p2"].map((run) => spawnWriter(["batches", dbPath, run, "20", "50"]));
  const outs = await Promise.all(kids.map((k) => k.output()));
  for (const o of outs) assertEquals(o.code, 0, new TextDecoder().decode(o.stderr));
  assertEquals(
    await query(dbPath, "SELECT run, count(*)::INT FROM metrics GROUP BY run ORDER BY run"),
    [["p1", 1000], ["p2", 1000]],
  );
  await Deno.remove(tmp, { recursive: true });
});
