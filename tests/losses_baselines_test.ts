/**
 * SimCLR, VICReg, W-MSE and SwAV against independent float64 computations (values) and
 * central finite differences of those computations (gradients), plus known answers and
 * option errors. SwAV's method state is tested in swav_state_test.ts, training in
 * losses_training_test.ts.
 */
import { tf } from "../arb/tf.ts";
import { Rng } from "../arb/rng.ts";
import { simclrLoss } from "../arb/losses/simclr.ts";
import { vicregLoss } from "../arb/losses/vicreg.ts";
import { subBatchOrder, whitenCholesky, wmseLoss } from "../arb/losses/wmse.ts";
import { sinkhornKnopp, swavLoss } from "../arb/losses/swav.ts";
import { losses, methodStates } from "../arb/losses/mod.ts";
import { assert, assertAlmostEquals, assertThrows } from "./assert.ts";
import {
  finiteDifference,
  normalizeRows,
  randn,
  relativeError,
  simclr64,
  sinkhorn64,
  swav64,
  unflatten,
  vicreg64,
  wmse64,
} from "./reference64.ts";

await tf.setBackend("cpu");

type Loss = (z1: tf.Tensor2D, z2: tf.Tensor2D, o?: Record<string, unknown>) => tf.Scalar;

/** Loss value and gradients w.r.t. z1 and z2 (flat), leaving no tensors behind. */
function valueAndGrads(loss: Loss, z1: number[][], z2: number[][], o?: Record<string, unknown>) {
  const before = tf.memory().numTensors;
  const out = tf.tidy(() => {
    const f = (a: tf.Tensor, b: tf.Tensor) => loss(a as tf.Tensor2D, b as tf.Tensor2D, o);
    const { value, grads } = tf.valueAndGrads(f)([tf.tensor2d(z1), tf.tensor2d(z2)]);
    return {
      value: value.dataSync()[0],
      grad: [...grads[0].dataSync(), ...grads[1].dataSync()],
    };
  });
  assert(tf.memory().numTensors === before, "no tensors leak");
  return out;
}

/** Asserts value and gradient of `loss` match the float64 reference `ref` (gradient by FD). */
function checkAgainstReference(
  loss: Loss,
  ref: (z1: number[][], z2: number[][]) => number,
  z1: number[][],
  z2: number[][],
  o?: Record<string, unknown>,
  gradTol = 1e-4,
) {
  const [n, d] = [z1.length, z1[0].length];
  const { value, grad } = valueAndGrads(loss, z1, z2, o);
  const expected = ref(z1, z2);
  assertAlmostEquals(value, expected, 1e-5 * Math.max(1, Math.abs(expected)), "loss value");
  const fd = finiteDifference(
    (x) => ref(unflatten(x, n, d), unflatten(x, n, d, n * d)),
    [...z1.flat(), ...z2.flat()],
  );
  const err = relativeError(grad, fd);
  assert(err < gradTol, `gradient relative error ${err} (tolerance ${gradTol})`);
}

Deno.test("simclr: value and gradient match float64 NT-Xent (t = 0.5, 0.2)", () => {
  const rng = new Rng(10);
  const z1 = randn(rng, 5, 3);
  const z2 = randn(rng, 5, 3);
  checkAgainstReference(simclrLoss, (a, b) => simclr64(a, b, 0.5), z1, z2);
  checkAgainstReference(simclrLoss, (a, b) => simclr64(a, b, 0.2), z1, z2, { temperature: 0.2 });
});

Deno.test("simclr: orthonormal views give -1/t + log(e^(1/t) + 2N - 2): 2N-2 negatives", () => {
  const rows = [[2, 0, 0, 0], [0, 3, 0, 0], [0, 0, 0.5, 0]]; // N = 3, norms differ: cosine
  const t = 0.5;
  const { value } = valueAndGrads(simclrLoss, rows, rows, { temperature: t });
  assertAlmostEquals(value, -1 / t + Math.log(Math.exp(1 / t) + 4), 1e-5);
});

Deno.test("simclr: rejects bad options and shapes with the option's name", () => {
  const z = tf.zeros([2, 3]) as tf.Tensor2D;
  assertThrows(() => simclrLoss(z, z, { temperature: 0 }), "simclr loss: option temperature");
  assertThrows(() => simclrLoss(z, z, { temprature: 0.5 }), "temprature");
  assertThrows(() => simclrLoss(z, tf.zeros([3, 3]) as tf.Tensor2D), "N x D");
  z.dispose();
});

Deno.test("vicreg: value and gradient match float64 (halved and summed variance, D <= N and D > N)", () => {
  const rng = new Rng(11);
  const z1 = randn(rng, 6, 4, 0.7);
  const z2 = z1.map((r) => r.map((v) => v + 0.3 * rng.normal()));
  const o = { sim: 25, std: 25, cov: 1, eps: 1e-4 };
  checkAgainstReference(vicregLoss, (a, b) => vicreg64(a, b, { ...o, reduction: "mean" }), z1, z2);
  checkAgainstReference(
    vicregLoss,
    (a, b) => vicreg64(a, b, { ...o, reduction: "sum" }),
    z1,
    z2,
    { variance_reduction: "sum" },
  );
  // D > N: the covariance penalty goes through the N x N Gram matrix.
  const w1 = randn(rng, 4, 7);
  const w2 = w1.map((r) => r.map((v) => v + 0.3 * rng.normal()));
  checkAgainstReference(vicregLoss, (a, b) => vicreg64(a, b, { ...o, reduction: "mean" }), w1, w2);
  const custom = { sim_coeff: 2, std_coeff: 3, cov_coeff: 0.5, std_eps: 1e-3 };
  checkAgainstReference(
    vicregLoss,
    (a, b) => vicreg64(a, b, { sim: 2, std: 3, cov: 0.5, eps: 1e-3, reduction: "mean" }),
    z1,
    z2,
    custom,
  );
});

Deno.test("vicreg: solo-learn's variance term is twice the official one", () => {
  const rng = new Rng(12);
  const z1 = randn(rng, 8, 5, 0.2); // std well below 1: the hinge is active
  const z2 = randn(rng, 8, 5, 0.2);
  const only = { sim_coeff: 0, cov_coeff: 0, std_coeff: 1 };
  const half = valueAndGrads(vicregLoss, z1, z2, only).value;
  const sum = valueAndGrads(vicregLoss, z1, z2, { ...only, variance_reduction: "sum" }).value;
  assert(half > 0.5, `variance hinge active (${half})`);
  assertAlmostEquals(sum, 2 * half, 1e-6);
  assertThrows(() => valueAndGrads(vicregLoss, [[1, 2]], [[1, 2]]), "at least 2 samples");
});

Deno.test("wmse: value and gradient (through the whitening) match float64", () => {
  const rng = new Rng(13);
  const z1 = randn(rng, 8, 3);
  const z2 = z1.map((r) => r.map((v) => v + 0.5 * rng.normal()));
  for (const { w_iter, w_eps } of [{ w_iter: 1, w_eps: 0 }, { w_iter: 2, w_eps: 0.1 }]) {
    const seed = new Rng(99);
    const replay = Rng.fromState(seed.state());
    const orders = Array.from({ length: w_iter }, () => subBatchOrder(8, 4, replay));
    checkAgainstReference(
      wmseLoss,
      (a, b) => wmse64(a, b, orders, 4, w_eps),
      z1,
      z2,
      { w_size: 4, w_iter, w_eps, rng: seed },
    );
  }
});

Deno.test("wmse: the on-device Cholesky path matches the host path (value and gradient)", () => {
  const rng = new Rng(22);
  const z1 = randn(rng, 16, 4);
  const z2 = z1.map((r) => r.map((v) => v + 0.5 * rng.normal()));
  const host = valueAndGrads(wmseLoss, z1, z2, { w_size: 8, rng: new Rng(1), cholesky: "host" });
  const device = valueAndGrads(wmseLoss, z1, z2, {
    w_size: 8,
    rng: new Rng(1),
    cholesky: "device",
  });
  assertAlmostEquals(device.value, host.value, 1e-5);
  assert(relativeError(device.grad, host.grad) < 1e-4, "gradients agree");
});

Deno.test("wmse: one sub-batch needs no rng; identical views give 0; whitened covariance is I", () => {
  const rng = new Rng(14);
  const z = randn(rng, 16, 4);
  const { value } = valueAndGrads(wmseLoss, z, z, { w_size: 16 });
  assertAlmostEquals(value, 0, 1e-5);
  const cov = tf.tidy(() => {
    const w = whitenCholesky(tf.tensor3d([z]), 0);
    return (tf.matMul(w, w, true, false).div(15) as tf.Tensor3D).arraySync()[0];
  });
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 4; j++) assertAlmostEquals(cov[i][j], i === j ? 1 : 0, 1e-4);
  }
});

Deno.test("wmse: clear errors for a w_size that cannot work and a missing rng", () => {
  const z = tf.randomNormal([8, 4], 0, 1, "float32", 1) as tf.Tensor2D;
  assertThrows(() => wmseLoss(z, z, { w_size: 3 }), "must divide the batch size 8");
  assertThrows(() => wmseLoss(z, z, { w_size: 4 }), "must exceed the embedding size 4");
  assertThrows(() => wmseLoss(z, z, { w_size: 4, w_eps: 0.1 }), "option rng");
  assertThrows(
    () => wmseLoss(z, z, { w_size: 4, w_eps: 0.1, rng: 3 }),
    "option rng: Input not instance of Rng",
  );
  z.dispose();
});

Deno.test("swav sinkhorn: matches float64; codes per sample sum to 1, per prototype to B/K", () => {
  const rng = new Rng(15);
  const scores = normalizeRows(randn(rng, 12, 4)).map((r) => r.slice(0, 4));
  const q = tf.tidy(() => sinkhornKnopp(tf.tensor2d(scores), { iterations: 3 }).arraySync());
  assert(relativeError(q.flat(), sinkhorn64(scores, 3, 0.05).flat()) < 1e-5, "3 iterations");
  for (const row of q) assertAlmostEquals(row.reduce((s, v) => s + v, 0), 1, 1e-5);
  const converged = tf.tidy(() =>
    sinkhornKnopp(tf.tensor2d(scores), { iterations: 300, epsilon: 0.5 }).arraySync()
  );
  for (let k = 0; k < 4; k++) {
    assertAlmostEquals(converged.reduce((s, r) => s + r[k], 0), 12 / 4, 1e-3, `prototype ${k}`);
  }
});

Deno.test("swav: value and gradient (codes held fixed) match float64, with and without queue", () => {
  const rng = new Rng(16);
  const [n, d, k] = [6, 4, 5];
  const z1 = randn(rng, n, d);
  const z2 = z1.map((r) => r.map((v) => v + 0.4 * rng.normal()));
  const protos = normalizeRows(randn(rng, k, d));
  const queue: [number[][], number[][]] = [
    normalizeRows(randn(rng, 8, d)),
    normalizeRows(randn(rng, 8, d)),
  ];
  for (const q of [undefined, queue]) {
    const o = { t: 0.1, eps: 0.05, iters: 3, queue: q };
    const codes = swav64(z1, z2, protos, o).codes;
    const prototypes = tf.tensor2d(protos);
    const queueT = q ? tf.tensor3d(q) : null;
    checkAgainstReference(
      swavLoss,
      (a, b) => swav64(a, b, protos, o, codes).loss,
      z1,
      z2,
      { prototypes, queue: queueT },
    );
    prototypes.dispose();
    queueT?.dispose();
  }
});

Deno.test("swav: gradient reaches the prototypes; missing prototypes is a clear error", () => {
  const rng = new Rng(17);
  const z1 = tf.tensor2d(randn(rng, 6, 4));
  const protos = tf.variable(tf.tensor2d(normalizeRows(randn(rng, 5, 4))));
  const { grads } = tf.variableGrads(() => swavLoss(z1, z1, { prototypes: protos }), [protos]);
  const g = Object.values(grads)[0];
  assert(tf.norm(g).dataSync()[0] > 1e-4, "non-zero prototype gradient");
  assertThrows(() => swavLoss(z1, z1), "methodStates.swav");
  assertThrows(() => swavLoss(z1, z1, { prototypes: tf.zeros([5, 3]) }), "K x 4");
  tf.dispose([z1, protos, g]);
});

Deno.test("every loss accepts the trainer's rng option (mod.ts: options may always include rng)", () => {
  const rng = new Rng(18);
  const z1 = tf.tensor2d(randn(rng, 8, 3));
  const z2 = tf.tensor2d(randn(rng, 8, 3));
  const prototypes = tf.tensor2d(normalizeRows(randn(rng, 4, 3)));
  const values = [
    simclrLoss(z1, z2, { rng }),
    vicregLoss(z1, z2, { rng }),
    wmseLoss(z1, z2, { w_size: 4, rng }),
    swavLoss(z1, z2, { prototypes, rng }),
  ];
  for (const v of values) assert(Number.isFinite(v.dataSync()[0]), "finite loss");
  tf.dispose([z1, z2, prototypes, ...values]);
});

Deno.test("every loss runs forward and backward on the wasm backend and agrees with cpu", async () => {
  const rng = new Rng(19);
  const z1 = randn(rng, 8, 3);
  const z2 = randn(rng, 8, 3);
  const protos = normalizeRows(randn(rng, 4, 3));
  const cases: [string, Loss, () => Record<string, unknown>][] = [
    ["simclr", simclrLoss, () => ({})],
    ["vicreg", vicregLoss, () => ({})],
    ["wmse", wmseLoss, () => ({ w_size: 4, rng: new Rng(5) })],
    ["swav", swavLoss, () => ({ prototypes: tf.tensor2d(protos) })],
  ];
  const run = async (backend: string) => {
    await tf.setBackend(backend);
    return cases.map(([, loss, options]) => {
      const o = options();
      const out = valueAndGrads(loss, z1, z2, o);
      if (o.prototypes) (o.prototypes as tf.Tensor).dispose();
      return out;
    });
  };
  const cpu = await run("cpu");
  try {
    const wasm = await run("wasm");
    cases.forEach(([name], i) => {
      assertAlmostEquals(wasm[i].value, cpu[i].value, 1e-4, `${name} value`);
      assert(relativeError(wasm[i].grad, cpu[i].grad) < 1e-3, `${name} gradient`);
    });
  } finally {
    await tf.setBackend("cpu");
  }
});

Deno.test("mod.ts registers the four baselines and SwAV's state factory", () => {
  for (const name of ["arb", "barlow_twins", "simclr", "vicreg", "wmse", "swav"]) {
    assert(typeof losses[name] === "function", `losses.${name}`);
  }
  assert(losses.wmse === wmseLoss && losses.swav === swavLoss, "the same functions");
  const state = methodStates.swav({
    projectorDim: 3,
    rng: new Rng(20),
    params: { num_prototypes: 4 },
  });
  const z = tf.tensor2d(randn(new Rng(21), 6, 3));
  const value = losses.swav(z, z, state.lossOptions({ epoch: 0, step: 0 }));
  assert(Number.isFinite(value.dataSync()[0]), "swav through the registry");
  tf.dispose([z, value]);
  state.dispose();
});
