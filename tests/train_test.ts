/**
 * The pretraining loop on tiny shapes: resume equivalence (bitwise), NaN stop with the
 * checkpoint intact, no tensor leaks, bit-identical loss curves for one seed on wasm and on
 * cpu, and the default learning-rate schedule.
 */
import { tf } from "../arb/tf.ts";
import { Rng } from "../arb/rng.ts";
import { buildEncoder, buildProjector } from "../arb/models/mod.ts";
import { losses, methodStates } from "../arb/losses/mod.ts";
import { loadTrainingCheckpoint } from "../arb/checkpoint.ts";
import { type BatchSource, pretrain, type PretrainOptions, type StepReport } from "../arb/train.ts";
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "./assert.ts";

const N = 12, BATCH = 6, EPOCHS = 3;

/** A fixed set of random 8x8x1 images served in a (seed, epoch)-determined order. */
function source(seed: number): BatchSource {
  const rng = new Rng(seed);
  const images = Float32Array.from({ length: N * 64 }, () => rng.uniform());
  return {
    batchesPerEpoch: N / BATCH,
    async *epoch(e: number) {
      const order = new Rng(seed * 1000 + e).shuffle([...Array(N).keys()]);
      for (let b = 0; b < N / BATCH; b++) {
        const buf = new Float32Array(BATCH * 64);
        order.slice(b * BATCH, (b + 1) * BATCH).forEach((i, j) =>
          buf.set(images.subarray(i * 64, (i + 1) * 64), j * 64)
        );
        yield { images: tf.tensor4d(buf, [BATCH, 8, 8, 1]), index: b };
      }
    },
  };
}

/** Views: per-image random brightness (drawn from the trainer's rng) and a flip. */
function views(x: tf.Tensor4D, rng: Rng): [tf.Tensor4D, tf.Tensor4D] {
  const s1 = Array.from({ length: x.shape[0] }, () => rng.range(0.6, 1.4));
  const s2 = Array.from({ length: x.shape[0] }, () => rng.range(0.6, 1.4));
  const v1 = tf.mul(x, tf.tensor4d(s1, [x.shape[0], 1, 1, 1]));
  const v2 = tf.reverse(tf.mul(x, tf.tensor4d(s2, [x.shape[0], 1, 1, 1])), 2);
  return [v1 as tf.Tensor4D, v2 as tf.Tensor4D];
}

function setup(overrides: Partial<PretrainOptions> = {}) {
  const encoder = buildEncoder(
    { arch: "convnet", stem: "cifar", inChannels: 1, width: 4 },
    new Rng(1),
  );
  const projector = buildProjector("16-8", encoder.featureDim, new Rng(2));
  const options: PretrainOptions = {
    encoder,
    projector,
    loss: losses.arb,
    lossOptions: { groups: 2, swap: true },
    data: source(4),
    views,
    epochs: EPOCHS,
    batchSize: BATCH,
    seed: 9,
    warmupEpochs: 1,
    ...overrides,
  };
  return { encoder, projector, options };
}

async function weights(m: { state(): Record<string, tf.Tensor> }) {
  const s = m.state();
  const out: Record<string, number[]> = {};
  for (const [k, t] of Object.entries(s)) out[k] = Array.from(await t.data());
  tf.dispose(Object.values(s));
  return out;
}

Deno.test("a run stopped and resumed ends with the same weights as an uninterrupted one", async () => {
  await tf.setBackend("wasm");
  const dirA = await Deno.makeTempDir(), dirB = await Deno.makeTempDir();
  try {
    const a = setup({ checkpointDir: dirA });
    const ra = await pretrain(a.options);
    assertEquals(ra.resumedFromEpoch, 0);
    // Run B: aborted during epoch 3 (after the epoch-2 checkpoint), then resumed by new models.
    const ctl = new AbortController();
    const b1 = setup({
      checkpointDir: dirB,
      signal: ctl.signal,
      onEpoch: ({ epoch }) => epoch === 1 && ctl.abort(),
    });
    await assertRejects(() => pretrain(b1.options), "aborted at step 4 (epoch 2)");
    b1.encoder.dispose();
    b1.projector.dispose();
    const b2 = setup({ checkpointDir: dirB });
    const rb = await pretrain(b2.options);
    assertEquals(rb.resumedFromEpoch, 2);
    assertEquals(rb.finalLoss, ra.finalLoss);
    assertEquals(await weights(b2.encoder), await weights(a.encoder));
    assertEquals(await weights(b2.projector), await weights(a.projector));
    // A different run refuses the checkpoint instead of silently mixing runs.
    const c = setup({ checkpointDir: dirB, seed: 10 });
    await assertRejects(() => pretrain(c.options), "belongs to a different run");
    for (const m of [a.encoder, a.projector, b2.encoder, b2.projector, c.encoder, c.projector]) {
      m.dispose();
    }
  } finally {
    await Deno.remove(dirA, { recursive: true });
    await Deno.remove(dirB, { recursive: true });
  }
});

Deno.test("a NaN loss stops training naming the step; the last checkpoint stays intact", async () => {
  await tf.setBackend("wasm");
  const dir = await Deno.makeTempDir();
  try {
    let calls = 0;
    // Test double: the real ARB loss, poisoned from the 4th step (epoch 1, batch 1) on.
    const poisoned = (z1: tf.Tensor2D, z2: tf.Tensor2D, o?: Record<string, unknown>) =>
      tf.mul(losses.arb(z1, z2, o), ++calls >= 4 ? NaN : 1) as tf.Scalar;
    const s = setup({ checkpointDir: dir, loss: poisoned });
    const before = tf.memory().numTensors;
    await assertRejects(() => pretrain(s.options), "loss is NaN at step 3 (epoch 1)");
    assertEquals(tf.memory().numTensors, before, "no tensors left behind by the failed step");
    const ck = await loadTrainingCheckpoint(dir);
    assert(ck !== null, "epoch-1 checkpoint exists");
    assertEquals(ck.info.epoch, 1);
    for (const part of Object.values(ck.parts)) tf.dispose(Object.values(part));
    s.encoder.dispose();
    s.projector.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("no tensor leaks: tf.memory().numTensors is flat across steps", async () => {
  await tf.setBackend("wasm");
  const counts: number[] = [];
  const s = setup({ onStep: () => counts.push(tf.memory().numTensors) });
  await pretrain(s.options);
  assertEquals(counts.length, EPOCHS * N / BATCH);
  assertEquals(new Set(counts.slice(1)).size, 1, `tensor counts per step: ${counts}`);
  s.encoder.dispose();
  s.projector.dispose();
});

for (const backend of ["wasm", "cpu"]) {
  Deno.test(`same seed, same backend (${backend}): the same loss curve bit for bit`, async () => {
    await tf.setBackend(backend);
    const curves: number[][] = [];
    for (let run = 0; run < 2; run++) {
      const curve: number[] = [];
      const s = setup({ epochs: 2, onStep: (r) => curve.push(r.loss) });
      await pretrain(s.options);
      curves.push(curve);
      s.encoder.dispose();
      s.projector.dispose();
    }
    assertEquals(curves[0], curves[1]);
    assert(curves[0].every(Number.isFinite), `${curves[0]}`);
    await tf.setBackend("wasm");
  });
}

Deno.test("default schedule: lr = batch/256 x 0.3 / 0.0048, linear warm-up from 0, cosine to 0.001", async () => {
  await tf.setBackend("wasm");
  const reports: StepReport[] = [];
  const s = setup({ epochs: 3, warmupEpochs: 1, onStep: (r) => reports.push(r) });
  await pretrain(s.options);
  const base = (BATCH / 256) * 0.3;
  assertEquals(reports[0].lr.weights, 0);
  assertAlmostEquals(reports[1].lr.weights, base / 2, 1e-12);
  assertAlmostEquals(reports[2].lr.weights, base, 1e-12);
  assertAlmostEquals(reports[2].lr.biases, (BATCH / 256) * 0.0048, 1e-12);
  assert(reports[5].lr.weights < reports[3].lr.weights, "cosine decays");
  assert(reports.every((r) => r.imagesPerSecond > 0 && r.totalSteps === 6));
  s.encoder.dispose();
  s.projector.dispose();
});

Deno.test("a method with state (SwAV prototypes + queue) trains, freezes and resumes bitwise", async () => {
  await tf.setBackend("wasm");
  const params = {
    num_prototypes: 5,
    queue_length: 12,
    epoch_queue_starts: 1,
    freeze_prototypes_epochs: 1,
  };
  const make = (dir: string, extra: Partial<PretrainOptions> = {}) => {
    const s = setup({
      loss: losses.swav,
      lossOptions: params,
      checkpointDir: dir,
      ...extra,
    });
    const state = methodStates.swav({ projectorDim: 8, rng: new Rng(6), params });
    s.options.methodState = state;
    return { ...s, state };
  };
  const dirA = await Deno.makeTempDir(), dirB = await Deno.makeTempDir();
  try {
    const a = make(dirA);
    const before = Array.from(a.state.variables[0].dataSync());
    let afterEpoch0: number[] = [];
    a.options.onEpoch = ({ epoch }) => {
      if (epoch === 0) afterEpoch0 = Array.from(a.state.variables[0].dataSync());
    };
    await pretrain(a.options);
    // Frozen in epoch 0: only the per-step renormalisation to unit rows touches them.
    const moved = Math.max(...afterEpoch0.map((v, i) => Math.abs(v - before[i])));
    assert(moved < 1e-6, `prototypes moved by ${moved} during the frozen epoch`);
    const final = Array.from(a.state.variables[0].dataSync());
    assert(
      Math.max(...final.map((v, i) => Math.abs(v - before[i]))) > 1e-4,
      "trained after epoch 0",
    );
    const ctl = new AbortController();
    const b1 = make(dirB, {
      signal: ctl.signal,
      onEpoch: ({ epoch }) => epoch === 1 && ctl.abort(),
    });
    await assertRejects(() => pretrain(b1.options), "aborted");
    const b2 = make(dirB);
    await pretrain(b2.options);
    assertEquals(
      Array.from(b2.state.variables[0].dataSync()),
      Array.from(a.state.variables[0].dataSync()),
    );
    assertEquals(await weights(b2.encoder), await weights(a.encoder));
    for (const m of [a, b1, b2]) {
      m.encoder.dispose();
      m.projector.dispose();
      m.state.dispose();
    }
  } finally {
    await Deno.remove(dirA, { recursive: true });
    await Deno.remove(dirB, { recursive: true });
  }
});

Deno.test("Adam without bias exclusion, warm-up start lr and loss scale: resumes bitwise", async () => {
  await tf.setBackend("wasm");
  const recipe: Partial<PretrainOptions> = {
    loss: losses.simclr,
    lossOptions: { temperature: 0.2 },
    optimizer: { name: "adam" },
    excludeBiasAndNorm: false,
    lr: { weights: 2e-3 },
    warmupStartLr: 1e-4,
    finalFactor: 0,
    lossScale: 0.1,
    weightDecay: 1e-6,
  };
  const dirA = await Deno.makeTempDir(), dirB = await Deno.makeTempDir();
  try {
    const reports: StepReport[] = [];
    const a = setup({ ...recipe, checkpointDir: dirA, onStep: (r) => reports.push(r) });
    await pretrain(a.options);
    assertEquals(reports[0].lr.weights, 1e-4, "warm-up starts at warmupStartLr");
    assertAlmostEquals(reports[1].lr.weights, 1e-4 + (2e-3 - 1e-4) / 2, 1e-15);
    // cosine toward 0 (finalFactor 0): step 5 of 6 after 2 warm-up steps is t = 3/4 of it
    assertAlmostEquals(reports[5].lr.weights, 2e-3 * (1 + Math.cos(0.75 * Math.PI)) / 2, 1e-15);
    const unscaled: number[] = [];
    const u = setup({ ...recipe, lossScale: 1, epochs: 1, onStep: (r) => unscaled.push(r.loss) });
    await pretrain(u.options);
    assertAlmostEquals(reports[0].loss, 0.1 * unscaled[0], 1e-6, "the loss is scaled by 0.1");
    const ctl = new AbortController();
    const b1 = setup({
      ...recipe,
      checkpointDir: dirB,
      signal: ctl.signal,
      onEpoch: ({ epoch }) => epoch === 1 && ctl.abort(),
    });
    await assertRejects(() => pretrain(b1.options), "aborted");
    const ck = await loadTrainingCheckpoint(dirB);
    assert(
      Object.keys(ck!.parts.optimizer).some((k) => k.endsWith("#step")),
      "Adam slots are checkpointed under stable names",
    );
    for (const part of Object.values(ck!.parts)) tf.dispose(Object.values(part));
    const b2 = setup({ ...recipe, checkpointDir: dirB });
    const rb = await pretrain(b2.options);
    assertEquals(rb.resumedFromEpoch, 2);
    assertEquals(await weights(b2.encoder), await weights(a.encoder));
    assertEquals(await weights(b2.projector), await weights(a.projector));
    const c = setup({ ...recipe, optimizer: { name: "lars" }, checkpointDir: dirB });
    await assertRejects(() => pretrain(c.options), "belongs to a different run");
    for (const m of [a, u, b1, b2, c]) {
      m.encoder.dispose();
      m.projector.dispose();
    }
  } finally {
    await Deno.remove(dirA, { recursive: true });
    await Deno.remove(dirB, { recursive: true });
  }
});
