import { assert, assertAlmostEquals, assertEquals, assertThrows } from "./assert.ts";
import { tf } from "../arb/tf.ts";
import { LARS, SGD, splitParamGroups, warmupCosine } from "../arb/optim/mod.ts";

const norm = (a: number[]) => Math.sqrt(a.reduce((s, x) => s + x * x, 0));

function close(got: ArrayLike<number>, want: number[], tol: number, msg: string) {
  assertEquals(got.length, want.length, msg);
  for (let i = 0; i < want.length; i++) assertAlmostEquals(got[i], want[i], tol, `${msg} [${i}]`);
}

for (const backend of ["cpu", "wasm"]) {
  Deno.test(`LARS (${backend}): two steps match a hand computation; biases excluded`, async () => {
    await tf.setBackend(backend);
    const w0 = [0.5, -1, 2, 0.25], b0 = [0.1, -0.2];
    const w = tf.variable(tf.tensor2d(w0, [2, 2]), true, `lars_w_${backend}`);
    const b = tf.variable(tf.tensor1d(b0), true, `lars_b_${backend}`);
    const groups = splitParamGroups([w, b], { weightDecay: 0.1 });
    assertEquals(groups.map((g) => g.variables.map((v) => v.name)), [[w.name], [b.name]]);
    const opt = new LARS(groups, { momentum: 0.9, eta: 0.02 });
    const grads = [[1, 2, -1, 0.5], [0.3, -0.4, 1.5, 2]];
    const gb = [[0.5, 1], [-1, 0.25]];
    const lr = { weights: 0.3, biases: 0.01 };
    // hand computation
    let wh = [...w0], bh = [...b0], mw = [0, 0, 0, 0], mb = [0, 0];
    for (let s = 0; s < 2; s++) {
      const dp = grads[s].map((g, i) => g + 0.1 * wh[i]);
      const q = 0.02 * norm(wh) / norm(dp);
      mw = mw.map((m, i) => 0.9 * m + q * dp[i]);
      wh = wh.map((x, i) => x - 0.3 * mw[i]);
      mb = mb.map((m, i) => 0.9 * m + gb[s][i]); // no decay, no trust ratio
      bh = bh.map((x, i) => x - 0.01 * mb[i]);
      tf.tidy(() =>
        opt.step({ [w.name]: tf.tensor2d(grads[s], [2, 2]), [b.name]: tf.tensor1d(gb[s]) }, lr)
      );
    }
    close(w.dataSync(), wh, 1e-6, "weights");
    close(b.dataSync(), bh, 1e-7, "biases");
    opt.dispose();
    tf.dispose([w, b]);
  });
}

Deno.test("LARS: trust ratio is 1 when the weight or the update norm is 0", async () => {
  await tf.setBackend("cpu");
  const w = tf.variable(tf.zeros([2, 2]), true, "lars_zero_w");
  const opt = new LARS([{ name: "weights", variables: [w], weightDecay: 0.5, adapt: true }]);
  tf.tidy(() => opt.step({ [w.name]: tf.tensor2d([1, 2, 3, 4], [2, 2]) }, { weights: 0.1 }));
  close(w.dataSync(), [-0.1, -0.2, -0.3, -0.4], 1e-7, "||w|| = 0 gives q = 1");
  const v = tf.variable(tf.ones([2]), true, "lars_zero_g");
  const opt2 = new LARS([{ name: "weights", variables: [v], weightDecay: 0, adapt: true }]);
  tf.tidy(() => opt2.step({ [v.name]: tf.zeros([2]) }, { weights: 0.1 }));
  close(v.dataSync(), [1, 1], 0, "||dp|| = 0 leaves w unchanged (no NaN)");
  opt.dispose();
  opt2.dispose();
  tf.dispose([w, v]);
});

Deno.test("LARS: state round-trips; resumed run equals uninterrupted run; no leaks", async () => {
  await tf.setBackend("cpu");
  const make = (tag: string) => {
    const w = tf.variable(tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]), true, `rt_w_${tag}`);
    const b = tf.variable(tf.tensor1d([1, -1]), true, `rt_b_${tag}`);
    return { w, b };
  };
  const gradAt = (s: number, m: { w: tf.Variable; b: tf.Variable }) => ({
    [m.w.name]: tf.tensor2d([s, 1, -s, 2, 0.5, s * s], [2, 3]).mul(m.w).sub(0.3),
    [m.b.name]: tf.tensor1d([s, -2 * s]),
  });
  const lr = (s: number) => ({ weights: 0.1 / (s + 1), biases: 0.05 });
  const a = make("a");
  const optA = new LARS(splitParamGroups([a.w, a.b], { weightDecay: 1e-2 }));
  const before = tf.memory().numTensors;
  for (let s = 0; s < 5; s++) tf.tidy(() => optA.step(gradAt(s, a), lr(s)));
  assertEquals(tf.memory().numTensors, before + 2, "only the two momentum buffers are kept");
  // stop after 3 steps, save, restore into fresh objects, continue
  const b = make("b");
  const optB = new LARS(splitParamGroups([b.w, b.b], { weightDecay: 1e-2 }));
  for (let s = 0; s < 3; s++) tf.tidy(() => optB.step(gradAt(s, b), lr(s)));
  const saved = optB.state();
  const weights = { w: b.w.clone(), b: b.b.clone() };
  optB.dispose();
  const c = make("c");
  c.w.assign(weights.w);
  c.b.assign(weights.b);
  const optC = new LARS(splitParamGroups([c.w, c.b], { weightDecay: 1e-2 }));
  // state keys are variable names; map b's names to c's
  optC.load({ [c.w.name]: saved[b.w.name], [c.b.name]: saved[b.b.name] });
  tf.dispose([...Object.values(saved), weights.w, weights.b]);
  for (let s = 3; s < 5; s++) tf.tidy(() => optC.step(gradAt(s, c), lr(s)));
  assertEquals(Array.from(c.w.dataSync()), Array.from(a.w.dataSync()), "weights bit-equal");
  assertEquals(Array.from(c.b.dataSync()), Array.from(a.b.dataSync()), "biases bit-equal");
  assertThrows(() => optC.load({ nope: tf.zeros([1]) }), "unknown variable");
  assertThrows(() => optC.load({ [c.w.name]: tf.zeros([3, 2]) }), "shape");
  optA.dispose();
  optC.dispose();
  tf.dispose([a.w, a.b, b.w, b.b, c.w, c.b]);
});

Deno.test("LARS/SGD: bad steps are clear errors", async () => {
  await tf.setBackend("cpu");
  const w = tf.variable(tf.ones([2, 2]), true, "err_w");
  const opt = new LARS(splitParamGroups([w], { weightDecay: 0 }));
  const g = tf.ones([2, 2]);
  assertThrows(() => opt.step({ other: g }, { weights: 1, biases: 1 }), "in no parameter group");
  assertThrows(() => opt.step({ [w.name]: g }, { weights: 1 }), `group "biases"`);
  assertThrows(() =>
    new SGD([{ name: "a", variables: [w], weightDecay: 0, adapt: false }, {
      name: "b",
      variables: [w],
      weightDecay: 0,
      adapt: false,
    }]), "appears twice");
  assertThrows(() => new LARS([], { eta: 0 }), "eta");
  tf.dispose([w, g]);
});

for (const backend of ["cpu", "wasm"]) {
  Deno.test(`SGD (${backend}): momentum and weight decay as torch.optim.SGD`, async () => {
    await tf.setBackend(backend);
    const w = tf.variable(tf.tensor1d([1, -2, 3]), true, `sgd_w_${backend}`);
    const opt = new SGD([{ name: "linear", variables: [w], weightDecay: 1e-2, adapt: true }], {
      momentum: 0.9,
    });
    let wh = [1, -2, 3], buf: number[] | null = null;
    for (const g of [[0.5, 0.5, -1], [1, 0, 2], [-0.5, 0.25, 0]]) {
      const dp = g.map((x, i) => x + 1e-2 * wh[i]);
      buf = buf ? buf.map((m, i) => 0.9 * m + dp[i]) : dp;
      wh = wh.map((x, i) => x - 0.1 * buf![i]);
      tf.tidy(() => opt.step({ [w.name]: tf.tensor1d(g) }, { linear: 0.1 }));
    }
    close(w.dataSync(), wh, 1e-6, "SGD weights");
    opt.dispose();
    w.dispose();
  });
}

Deno.test("warmupCosine: 0 at start, base at warm-up end, mean at midpoint, final at end", () => {
  const p = { base: 0.6, warmupSteps: 10, totalSteps: 110 };
  assertEquals(warmupCosine(0, p), 0);
  assertAlmostEquals(warmupCosine(5, p), 0.3, 1e-15);
  assertAlmostEquals(warmupCosine(10, p), 0.6, 1e-15);
  assertAlmostEquals(warmupCosine(60, p), 0.6 * (1 + 0.001) / 2, 1e-15);
  assertAlmostEquals(warmupCosine(110, p), 0.6 * 0.001, 1e-15);
  assertAlmostEquals(warmupCosine(500, p), 0.6 * 0.001, 1e-15, "holds the final value");
  for (let s = 10; s < 110; s++) {
    assert(warmupCosine(s + 1, p) < warmupCosine(s, p), `decreasing at ${s}`);
  }
  assertAlmostEquals(warmupCosine(0, { ...p, warmupSteps: 0 }), 0.6, 1e-15, "no warm-up");
  assertAlmostEquals(warmupCosine(110, { ...p, finalFactor: 0 }), 0, 1e-15);
  assertThrows(() => warmupCosine(0, { base: 1, warmupSteps: 10, totalSteps: 10 }), "must exceed");
});
