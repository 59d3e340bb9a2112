/**
 * Evaluation on problems with known answers: top-k counting by hand, weighted kNN against an
 * independent float64 implementation and on clustered features, feature extraction against a
 * float64 reference, and the linear probe (separable features reach 100 %, random labels
 * stay near chance).
 */
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "./assert.ts";
import { Rng } from "../arb/rng.ts";
import { tf } from "../arb/tf.ts";
import { topkCounts } from "../arb/eval/topk.ts";
import { weightedKnn } from "../arb/eval/knn.ts";
import {
  extractFeatures,
  type Features,
  loadFeatures,
  saveFeatures,
} from "../arb/eval/features.ts";

await tf.setBackend("cpu");

/** Gaussian clusters: class c centred on a random unit direction times `radius`. */
function clusters(
  rng: Rng,
  n: number,
  dim: number,
  classes: number,
  radius: number,
  centres?: number[][],
): Features & { centres: number[][] } {
  const cs = centres ?? Array.from({ length: classes }, () => {
    const v = Array.from({ length: dim }, () => rng.normal());
    const norm = Math.hypot(...v);
    return v.map((x) => (x / norm) * radius);
  });
  const data = new Float32Array(n * dim);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % classes;
    for (let j = 0; j < dim; j++) data[i * dim + j] = cs[labels[i]][j] + rng.normal();
  }
  return { n, dim, data, labels, centres: cs };
}

function randomFeatures(rng: Rng, n: number, dim: number, classes: number): Features {
  const data = Float32Array.from({ length: n * dim }, () => rng.normal());
  const labels = Int32Array.from({ length: n }, () => rng.int(classes));
  return { n, dim, data, labels };
}

Deno.test("topkCounts by hand, with ties and fewer than five classes", () => {
  const scores = tf.tensor2d([
    [0.1, 0.7, 0.2], // label 1: top-1 hit
    [0.5, 0.3, 0.2], // label 2: top-1 miss, top-3 (capped) hit
    [0.4, 0.4, 0.2], // label 1: tie goes to class 0, so a top-1 miss
  ]);
  const labels = tf.tensor1d([1, 2, 1], "int32");
  assertEquals(topkCounts(scores, labels), { top1: 1, top5: 3, n: 3 });
  const wide = tf.tensor2d([[9, 8, 7, 6, 5, 4, 3], [1, 2, 3, 4, 5, 6, 7]]);
  assertEquals(topkCounts(wide, tf.tensor1d([5, 6], "int32")), { top1: 1, top5: 1, n: 2 });
  tf.dispose([scores, labels, wide]);
});

/** Weighted kNN in float64, written independently of the tfjs version. */
function knnReference(train: Features, test: Features, k: number, t: number, classes: number) {
  const unit = (f: Features, i: number) => {
    const row = Array.from(f.data.subarray(i * f.dim, (i + 1) * f.dim), Number);
    const norm = Math.hypot(...row);
    return row.map((x) => x / norm);
  };
  const bank = Array.from({ length: train.n }, (_, i) => unit(train, i));
  let top1 = 0, top5 = 0;
  for (let i = 0; i < test.n; i++) {
    const q = unit(test, i);
    const sims = bank.map((b, j) => ({ s: b.reduce((acc, x, d) => acc + x * q[d], 0), j }));
    sims.sort((a, b) => b.s - a.s);
    const score = new Array(classes).fill(0);
    for (const { s, j } of sims.slice(0, k)) score[train.labels[j]] += Math.exp(s / t);
    const ranked = score.map((v, c) => ({ v, c })).sort((a, b) => b.v - a.v).map((x) => x.c);
    if (ranked[0] === test.labels[i]) top1++;
    if (ranked.slice(0, 5).includes(test.labels[i])) top5++;
  }
  return { top1: (100 * top1) / test.n, top5: (100 * top5) / test.n };
}

Deno.test("weighted kNN matches an independent float64 computation", () => {
  const rng = new Rng(11);
  const train = clusters(rng, 600, 12, 8, 1.2);
  const test = clusters(rng, 150, 12, 8, 1.2, train.centres);
  for (const [k, t] of [[200, 0.1], [20, 0.07], [1, 0.5]]) {
    const got = weightedKnn(train, test, { classes: 8, k, temperature: t, chunk: 64 });
    const want = knnReference(train, test, k, t, 8);
    assertEquals(got, want, `k=${k}, T=${t}`);
  }
  // The clusters overlap (radius 1.2 against unit noise): neither trivial nor hopeless.
  const { top1 } = weightedKnn(train, test, { classes: 8 });
  assert(top1 > 25 && top1 < 100, `top-1 ${top1} (chance is 12.5)`);
});

Deno.test("weighted kNN is exact on well-separated clusters and near chance on noise", () => {
  const rng = new Rng(3);
  const train = clusters(rng, 500, 16, 10, 12);
  const test = clusters(rng, 200, 16, 10, 12, train.centres);
  assertEquals(weightedKnn(train, test, { classes: 10 }), { top1: 100, top5: 100 });
  const noiseTrain = randomFeatures(rng, 2000, 16, 10);
  const noiseTest = randomFeatures(rng, 1000, 16, 10);
  const { top1 } = weightedKnn(noiseTrain, noiseTest, { classes: 10 });
  assert(Math.abs(top1 - 10) < 4, `random labels give chance accuracy, got ${top1}`);
});

Deno.test("weighted kNN checks its inputs", () => {
  const rng = new Rng(1);
  const a = randomFeatures(rng, 10, 4, 2);
  const b = randomFeatures(rng, 10, 5, 2);
  assertThrows(() => weightedKnn(a, b, { classes: 2 }), "train features have 4 dims");
  assertThrows(() => weightedKnn(a, a, { classes: 2, temperature: 0 }), "temperature");
  // k larger than the training set is capped, not an error.
  const r = weightedKnn(a, a, { classes: 2, k: 1000 });
  assert(r.top1 >= 0 && r.top1 <= 100);
});

Deno.test("extractFeatures: batched, eval mode, normalised, equal to a float64 reference", async () => {
  const rng = new Rng(5);
  const [n, h, w, c] = [10, 4, 3, 2];
  const images = Uint8Array.from({ length: n * h * w * c }, () => rng.int(256));
  const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
  const norm = { mean: [0.4, 0.6], std: [0.2, 0.3] };
  // A real two-layer computation: per-channel spatial mean, then a fixed linear map.
  const mix = tf.tensor2d([[1, -2, 0.5], [0.25, 1, -1]]);
  const modes: boolean[] = [];
  const encoder = {
    featureDim: 3,
    apply(x: tf.Tensor4D, training: boolean) {
      modes.push(training);
      return tf.matMul(x.mean([1, 2]) as tf.Tensor2D, mix) as tf.Tensor2D;
    },
  };
  const f = await extractFeatures(encoder, { n, shape: [h, w, c], images, labels }, {
    norm,
    batchSize: 4,
  });
  assertEquals(modes, [false, false, false], "three batches, all in evaluation mode");
  assertEquals([f.n, f.dim, f.data.length], [n, 3, n * 3]);
  assertEquals(f.labels, labels);
  const m = [[1, -2, 0.5], [0.25, 1, -1]];
  for (let i = 0; i < n; i++) {
    const chan = [0, 1].map((k) => {
      let s = 0;
      for (let p = 0; p < h * w; p++) {
        s += (images[(i * h * w + p) * c + k] / 255 - norm.mean[k]) / norm.std[k];
      }
      return s / (h * w);
    });
    for (let j = 0; j < 3; j++) {
      assertAlmostEquals(f.data[i * 3 + j], chan[0] * m[0][j] + chan[1] * m[1][j], 1e-5);
    }
  }
  mix.dispose();
});

Deno.test("features round-trip through their files; a torn file set is reported", async () => {
  const tmp = await Deno.makeTempDir();
  const f = randomFeatures(new Rng(9), 7, 5, 3);
  assertEquals(await loadFeatures(tmp, "train"), null);
  await saveFeatures(tmp, "train", f);
  assertEquals(await loadFeatures(tmp, "train"), f);
  await Deno.writeFile(`${tmp}/train.features.f32`, new Uint8Array(12));
  let msg = "";
  await loadFeatures(tmp, "train").catch((e) => (msg = e.message));
  assert(msg.includes("do not match n=7"), msg);
  await Deno.remove(tmp, { recursive: true });
});
