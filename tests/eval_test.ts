/**
 * Evaluation on problems with known answers: top-k counting by hand, weighted kNN against an
 * independent float64 implementation and on clustered features, feature extraction against a
 * float64 reference, and the linear probe (separable features reach 100 %, random labels
 * stay near chance).
 */
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "./assert.ts";
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

Deno.test("topkCounts by hand, with ties and fewer than five classes", async () => {
  const scores = tf.tensor2d([
    [0.1, 0.7, 0.2], // label 1: top-1 hit
    [0.5, 0.3, 0.2], // label 2: top-1 miss, top-3 (capped) hit
    [0.4, 0.4, 0.2], // label 1: tie goes to class 0, so a top-1 miss
  ]);
  const labels = tf.tensor1d([1, 2, 1], "int32");
  assertEquals(await topkCounts(scores, labels), { top1: 1, top5: 3, n: 3 });
  const wide = tf.tensor2d([[9, 8, 7, 6, 5, 4, 3], [1, 2, 3, 4, 5, 6, 7]]);
  assertEquals(await topkCounts(wide, tf.tensor1d([5, 6], "int32")), { top1: 1, top5: 1, n: 2 });
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

Deno.test("weighted kNN matches an independent float64 computation", async () => {
  const rng = new Rng(11);
  const train = clusters(rng, 600, 12, 8, 1.2);
  const test = clusters(rng, 150, 12, 8, 1.2, train.centres);
  for (const [k, t] of [[200, 0.1], [20, 0.07], [1, 0.5]]) {
    const got = await weightedKnn(train, test, { classes: 8, k, temperature: t, chunk: 64 });
    const want = knnReference(train, test, k, t, 8);
    assertEquals(got, want, `k=${k}, T=${t}`);
  }
  // The clusters overlap (radius 1.2 against unit noise): neither trivial nor hopeless.
  const { top1 } = await weightedKnn(train, test, { classes: 8 });
  assert(top1 > 25 && top1 < 100, `top-1 ${top1} (chance is 12.5)`);
});

Deno.test("weighted kNN is exact on well-separated clusters and near chance on noise", async () => {
  const rng = new Rng(3);
  const train = clusters(rng, 500, 16, 10, 12);
  const test = clusters(rng, 200, 16, 10, 12, train.centres);
  assertEquals(await weightedKnn(train, test, { classes: 10 }), { top1: 100, top5: 100 });
  const noiseTrain = randomFeatures(rng, 2000, 16, 10);
  const noiseTest = randomFeatures(rng, 1000, 16, 10);
  const { top1 } = await weightedKnn(noiseTrain, noiseTest, { classes: 10 });
  assert(Math.abs(top1 - 10) < 4, `random labels give chance accuracy, got ${top1}`);
});

Deno.test("weighted kNN checks its inputs", async () => {
  const rng = new Rng(1);
  const a = randomFeatures(rng, 10, 4, 2);
  const b = randomFeatures(rng, 10, 5, 2);
  await assertRejects(() => weightedKnn(a, b, { classes: 2 }), "train features have 4 dims");
  await assertRejects(() => weightedKnn(a, a, { classes: 2, temperature: 0 }), "temperature");
  // k larger than the training set is capped, not an error.
  const r = await weightedKnn(a, a, { classes: 2, k: 1000 });
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

// ---- linear probe -------------------------------------------------------------------------

import {
  cachedSource,
  type EpochReport,
  probeLr,
  type ProbeState,
  summarise,
  trainLinearProbe,
} from "../arb/eval/linear.ts";
import { loadProbeState, saveProbeState } from "../arb/eval/probe_state.ts";
import { linearEval } from "../arb/eval/probe.ts";

Deno.test("probe learning rate: cosine over epochs from 0.1, stepped per epoch", () => {
  assertAlmostEquals(probeLr(0, 100, 0.1), 0.1, 1e-12);
  assertAlmostEquals(probeLr(50, 100, 0.1), 0.05, 1e-12);
  assertAlmostEquals(probeLr(99, 100, 0.1), 0.05 * (1 + Math.cos(Math.PI * 0.99)), 1e-12);
});

Deno.test("linearly separable features reach 100 % test accuracy", async () => {
  const rng = new Rng(21);
  const train = clusters(rng, 1000, 16, 10, 8);
  const test = clusters(rng, 300, 16, 10, 8, train.centres);
  const reports: EpochReport[] = [];
  const r = await trainLinearProbe(cachedSource(train, 64, 0), test, {
    classes: 10,
    epochs: 8,
    seed: 0,
    onEpoch: (rep) => void reports.push(rep),
  });
  assertEquals(r.final, { top1: 100, top5: 100 });
  assertEquals(reports.map((x) => x.epoch), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert(reports[7].trainLoss < reports[0].trainLoss, "training loss falls");
});

Deno.test("random labels stay near chance", async () => {
  const rng = new Rng(22);
  const train = randomFeatures(rng, 2000, 32, 10);
  const test = randomFeatures(rng, 1000, 32, 10);
  const r = await trainLinearProbe(cachedSource(train, 256, 0), test, {
    classes: 10,
    epochs: 10,
    seed: 0,
  });
  assert(Math.abs(r.final.top1 - 10) < 4, `top-1 ${r.final.top1} is near 10 %`);
  assert(Math.abs(r.final.top5 - 50) < 6, `top-5 ${r.final.top5} is near 50 %`);
});

Deno.test("one SGD step equals a float64 hand computation", async () => {
  const x = [[1, 2, -1], [0.5, -1, 2], [-2, 0.5, 1], [1, 1, 1]];
  const y = [0, 1, 1, 0];
  const train: Features = {
    n: 4,
    dim: 3,
    data: Float32Array.from(x.flat()),
    labels: Int32Array.from(y),
  };
  let state: ProbeState | null = null;
  await trainLinearProbe(cachedSource(train, 4, 0), train, {
    classes: 2,
    epochs: 3,
    lr: 0.5,
    weightDecay: 0.01,
    seed: 5,
    onEpoch: (_r, s) => void (state ??= s),
  });
  // Initial weights as the probe draws them: N(0, 0.01) from Rng(seed), row-major dim x classes.
  const rng = new Rng(5);
  const w0 = Array.from({ length: 3 }, () => Array.from({ length: 2 }, () => 0.01 * rng.normal()));
  const grad = w0.map((row) => row.map(() => 0));
  const gradB = [0, 0];
  for (let i = 0; i < 4; i++) {
    const logits = [0, 1].map((c) => x[i].reduce((s, v, d) => s + v * w0[d][c], 0));
    const m = Math.max(...logits);
    const e = logits.map((l) => Math.exp(l - m));
    const p = e.map((v) => v / (e[0] + e[1]));
    for (let c = 0; c < 2; c++) {
      const d = (p[c] - (y[i] === c ? 1 : 0)) / 4;
      gradB[c] += d;
      for (let k = 0; k < 3; k++) grad[k][c] += x[i][k] * d;
    }
  }
  const s = state!;
  for (let k = 0; k < 3; k++) {
    for (let c = 0; c < 2; c++) {
      const dp = grad[k][c] + 0.01 * w0[k][c];
      assertAlmostEquals(s.weight[k * 2 + c], w0[k][c] - 0.5 * dp, 1e-6, `w[${k}][${c}]`);
      assertAlmostEquals(s.momentum.weight![k * 2 + c], dp, 1e-6, `momentum w[${k}][${c}]`);
    }
  }
  for (let c = 0; c < 2; c++) assertAlmostEquals(s.bias[c], -0.5 * gradB[c], 1e-6, `b[${c}]`);
});

Deno.test("a probe resumed from an epoch's state ends exactly where an uninterrupted one does", async () => {
  const rng = new Rng(23);
  const train = clusters(rng, 300, 8, 4, 1.5);
  const test = clusters(rng, 100, 8, 4, 1.5, train.centres);
  const states: ProbeState[] = [];
  const opts = { classes: 4, epochs: 6, seed: 1 };
  const full = await trainLinearProbe(cachedSource(train, 32, 3), test, {
    ...opts,
    onEpoch: (_r, s) => void states.push(s),
  });
  const tmp = await Deno.makeTempDir();
  await saveProbeState(tmp, states[2], "fp");
  assertEquals(await loadProbeState(tmp, "other settings"), null);
  const saved = await loadProbeState(tmp, "fp");
  assertEquals(saved, states[2]);
  const resumed = await trainLinearProbe(cachedSource(train, 32, 3), test, {
    ...opts,
    resume: saved!,
  });
  assertEquals(resumed.history, full.history);
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("summarise: final epoch, best top-1 with its epoch, best top-5 on its own", () => {
  const h = (epoch: number, top1: number, top5: number) => ({
    epoch,
    lr: 0,
    trainLoss: 0,
    top1,
    top5,
  });
  const r = summarise([h(0, 50, 80), h(1, 60, 79), h(2, 55, 85)]);
  assertEquals(r.final, { top1: 55, top5: 85 });
  assertEquals(r.best, { top1: 60, top5: 85, top1Epoch: 1 });
});

Deno.test("linearEval: features cached once, augmented views per step, kNN", async () => {
  const rng = new Rng(31);
  const [n, h, w, c, classes] = [96, 4, 4, 1, 3];
  // Class k images are bright in row k: a linear read-out of the mean over columns separates them.
  const makeSplit = (name: string, count: number) => {
    const images = new Uint8Array(count * h * w * c);
    const labels = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      labels[i] = i % classes;
      for (let p = 0; p < h * w; p++) {
        const row = Math.floor(p / w);
        images[i * h * w + p] = (row === labels[i] ? 200 : 30) + rng.int(40);
      }
    }
    return {
      name,
      n: count,
      shape: [h, w, c] as [number, number, number],
      classes,
      images,
      labels,
      labelSets: {},
    };
  };
  const train = makeSplit("train", n);
  const test = makeSplit("test", 45);
  let applied = 0;
  const encoder = {
    featureDim: h,
    apply(x: tf.Tensor4D, training: boolean) {
      assert(!training, "the encoder stays in evaluation mode");
      applied += x.shape[0];
      return x.mean([2, 3]) as tf.Tensor2D; // per-row brightness
    },
  };
  const tmp = await Deno.makeTempDir();
  const settings = {
    epochs: 5,
    batchSize: 16,
    lr: 0.1,
    momentum: 0.9,
    weightDecay: 1e-4,
    augment: false,
    seed: 0,
    featureBatchSize: 32,
    knn: { k: 20, temperature: 0.1 },
  };
  const data = { train, test, norm: { mean: [0.4], std: [0.3] }, classes };
  const epochs: number[] = [];
  const r = await linearEval(encoder, data, settings, {
    featureDir: `${tmp}/features`,
    stateDir: `${tmp}/probe`,
    onEpoch: (rep) => void epochs.push(rep.epoch),
  });
  assertEquals(applied, n + 45, "features computed once per image");
  assertEquals(epochs, [0, 1, 2, 3, 4]);
  assertEquals(r.final.top1, 100);
  assertEquals(r.knn, { top1: 100, top5: 100 });
  assertEquals(r.shape, { dim: h, train: n, test: 45 });
  // A second run reuses the cached features and the finished probe state.
  applied = 0;
  const epochs2: number[] = [];
  const again = await linearEval(encoder, data, settings, {
    featureDir: `${tmp}/features`,
    stateDir: `${tmp}/probe`,
    onEpoch: (rep) => void epochs2.push(rep.epoch),
  });
  assertEquals(applied, 0);
  assertEquals(epochs2, [0, 1, 2, 3, 4], "restored epochs are reported again");
  assertEquals(again.history, r.history);
  // augment: true runs the encoder on a fresh view of every training batch, every epoch.
  applied = 0;
  let views = 0;
  const aug = await linearEval(encoder, data, { ...settings, augment: true }, {
    featureDir: `${tmp}/features`,
    view: (x, vrng) => {
      views++;
      const flip = vrng.bernoulli(0.5);
      return tf.tidy(() => {
        const v = x.sub(0.4).div(0.3) as tf.Tensor4D;
        return flip ? tf.reverse(v, 2) : v; // a horizontal flip keeps the row structure
      });
    },
  });
  assertEquals(views, 5 * Math.ceil(n / 16));
  assertEquals(applied, 5 * n);
  assertEquals(aug.final.top1, 100);
  await Deno.remove(tmp, { recursive: true });
});
