/**
 * The `linear_eval` stage kind on real inputs: a dataset folder written by the data module, an
 * encoder exported by `saveEncoder`, a real metrics database; cached and augmented modes, the
 * random-init floor, and the errors for missing or ambiguous encoders.
 */
import { assert, assertEquals, assertRejects } from "./assert.ts";
import { Rng } from "../arb/rng.ts";
import { tf } from "../arb/tf.ts";
import { DatasetWriter } from "../arb/data/writer.ts";
import { buildEncoder } from "../arb/models/mod.ts";
import { saveEncoder } from "../arb/checkpoint.ts";
import { MetricsDb } from "../metrics/db.ts";
import { readMetricRows } from "../metrics/files.ts";
import { kind } from "../stages/linear_eval.ts";
import type { StageInput } from "../pipeline/types.ts";

const [H, W, C, CLASSES] = [12, 12, 1, 3];

/** Class k: a bright horizontal band in the k-th third of the image, plus noise. */
function split(rng: Rng, n: number) {
  const images = new Uint8Array(n * H * W * C);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % CLASSES;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const band = Math.floor(y / (H / CLASSES)) === labels[i];
        images[(i * H + y) * W + x] = (band ? 190 : 40) + rng.int(50);
      }
    }
  }
  return { images, labels };
}

const setup = (async () => {
  await tf.setBackend("cpu");
  const tmp = await Deno.makeTempDir({ prefix: "arb-linear-eval-" });
  const rng = new Rng(1);
  const w = await DatasetWriter.create(`${tmp}/data`, [H, W, C]);
  await w.writeSplit("train", split(rng, 150));
  await w.writeSplit("test", split(rng, 60));
  await w.commit({
    name: "bands",
    shape: [H, W, C],
    classes: CLASSES,
    classNames: ["top", "middle", "bottom"],
    labelSets: {},
    sources: [{ url: "test", sha256: "0".repeat(64), file: "none" }],
    subset: null,
  });
  const encoder = buildEncoder({ arch: "convnet", stem: "cifar", inChannels: C }, new Rng(2));
  await saveEncoder(`${tmp}/pretrain`, encoder, { method: "arb", dataset: "bands" });
  encoder.dispose();
  return tmp;
})();

function input(tmp: string, stage: string, k: string, params: Record<string, unknown>): StageInput {
  return {
    id: stage,
    stage,
    kind: k,
    key: `${stage}-key`,
    digest: "d",
    dir: `${tmp}/${stage === "data" ? "data" : "pretrain"}`,
    params,
    matrix: {},
  };
}

async function runStage(
  tmp: string,
  name: string,
  withParams: Record<string, unknown>,
  inputs: Record<string, StageInput[]>,
) {
  const outDir = `${tmp}/${name}/out`;
  await Deno.mkdir(outDir, { recursive: true });
  await kind.run({
    experiment: "stage-test",
    profile: null,
    id: `eval_${name}`,
    kind: "linear_eval",
    key: `key-${name}`,
    params: kind.schema.parse(withParams),
    matrix: {},
    inputs,
    outDir,
    stateDir: `${tmp}/${name}/state`,
    cacheDir: `${tmp}/cache`,
    signal: new AbortController().signal,
    log: () => {},
    progress: () => {},
  });
  return outDir;
}

Deno.test("linear_eval on cached features: results, per-epoch metrics, features, database", async () => {
  const tmp = await setup;
  const out = await runStage(tmp, "cached", {
    epochs: 4,
    batch_size: 32,
    augment: false,
    backend: "cpu",
    knn: { k: 20 },
  }, {
    data: [input(tmp, "data", "fetch_dataset", { dataset: "bands" })],
    train: [input(tmp, "train", "pretrain", { method: "arb" })],
  });
  const results = JSON.parse(await Deno.readTextFile(`${out}/results.json`));
  assertEquals(Object.keys(results).sort(), [
    "knn_top1",
    "knn_top5",
    "linear_top1_best",
    "linear_top1_final",
    "linear_top5_best",
    "linear_top5_final",
    "seconds",
  ]);
  for (const [k, v] of Object.entries(results)) {
    if (k !== "seconds") assert((v as number) >= 0 && (v as number) <= 100, `${k} = ${v}`);
  }
  assert(results.linear_top1_best >= results.linear_top1_final, "best >= final");
  assertEquals(results.linear_top5_final, 100, "three classes: top-5 is always right");
  // The bands are easy even for an untrained convnet: well above chance (33 %).
  assert(results.linear_top1_best > 60, `linear top-1 ${results.linear_top1_best}`);
  const rows = await readMetricRows(`${out}/metrics.jsonl`);
  assertEquals(rows.length, 4 * 4);
  assertEquals([...new Set(rows.map((r) => r.name))].sort(), [
    "linear_top1",
    "linear_top5",
    "lr",
    "train_loss",
  ]);
  const run = JSON.parse(await Deno.readTextFile(`${out}/run.json`));
  assertEquals([run.method, run.dataset, run.status, run.backend], ["arb", "bands", "ok", "cpu"]);
  for (const f of ["train.features.f32", "test.features.f32", "test.labels.i32"]) {
    assert((await Deno.stat(`${out}/features/${f}`)).size > 0, f);
  }
  const db = await MetricsDb.shared(`${tmp}/cache/metrics.duckdb`).read(async (con) =>
    (await con.runAndReadAll(
      "SELECT name, value FROM results WHERE run = 'key-cached' AND name = 'linear_top1_best'",
    )).getRowsJson()
  );
  assertEquals(db, [["linear_top1_best", results.linear_top1_best]]);
});

Deno.test("linear_eval random_init with augmented views (crop pad 4 + flip)", async () => {
  const tmp = await setup;
  const out = await runStage(tmp, "random", {
    epochs: 2,
    batch_size: 64,
    augment: true,
    backend: "cpu",
    knn: false,
    random_init: { arch: "convnet" },
  }, { data: [input(tmp, "data", "fetch_dataset", { dataset: "bands" })] });
  const results = JSON.parse(await Deno.readTextFile(`${out}/results.json`));
  assertEquals(Object.keys(results).sort(), [
    "linear_top1_best",
    "linear_top1_final",
    "linear_top5_best",
    "linear_top5_final",
    "seconds",
  ]);
  const run = JSON.parse(await Deno.readTextFile(`${out}/run.json`));
  assertEquals(run.method, "random_init");
});

Deno.test("linear_eval says what is missing or ambiguous", async () => {
  const tmp = await setup;
  const data = [input(tmp, "data", "fetch_dataset", { dataset: "bands" })];
  const train = [input(tmp, "train", "pretrain", { method: "arb" })];
  await assertRejects(
    () => runStage(tmp, "none", { backend: "cpu" }, { data }),
    "needs a pretrain upstream, or random_init",
  );
  await assertRejects(
    () =>
      runStage(tmp, "both", { backend: "cpu", random_init: { arch: "convnet" } }, { data, train }),
    "has both a pretrain upstream",
  );
  await assertRejects(
    () => runStage(tmp, "nodata", { backend: "cpu" }, { train }),
    "needs a fetch_dataset upstream",
  );
});

globalThis.addEventListener("unload", () => {
  setup.then((tmp) => Deno.removeSync(tmp, { recursive: true })).catch(() => {});
});
