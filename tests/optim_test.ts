import { assert, assertAlmostEquals, assertEquals, assertThrows } from "./assert.ts";
import { tf } from "../arb/tf.ts";
import {
  Adam,
  createOptimizer,
  LARS,
  SGD,
  splitParamGroups,
  splitStateKey,
  warmupCosine,
} from "../arb/optim/mod.ts";

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

Deno.test("warmupCosine: startLr starts the warm-up there (solo-learn's warmup_start_lr)", () => {
  const p = { base: 0.4, warmupSteps: 10, totalSteps: 110, startLr: 3e-5, finalFactor: 0 };
  assertEquals(warmupCosine(0, p), 3e-5);
  assertAlmostEquals(warmupCosine(5, p), 3e-5 + (0.4 - 3e-5) / 2, 1e-15);
  assertAlmostEquals(warmupCosine(10, p), 0.4, 1e-15);
  assertAlmostEquals(warmupCosine(110, p), 0, 1e-15);
  assertThrows(() => warmupCosine(0, { ...p, startLr: -1 }), "startLr");
});

for (const backend of ["cpu", "wasm"]) {
  Deno.test(`LARS solo_learn variant (${backend}): trust ratio with clip_lr, as Lightning Bolts`, async () => {
    await tf.setBackend(backend);
    const w0 = [0.5, -1, 2, 0.25], b0 = [0.1, -0.2];
    const w = tf.variable(tf.tensor2d(w0, [2, 2]), true, `solo_w_${backend}`);
    const b = tf.variable(tf.tensor1d(b0), true, `solo_b_${backend}`);
    const opt = new LARS(splitParamGroups([w, b], { weightDecay: 0.1 }), {
      momentum: 0.9,
      eta: 0.02,
      variant: "solo_learn",
      clipLr: true,
    });
    const grads = [[1, 2, -1, 0.5], [0.3, -0.4, 1.5, 2], [0.2, 0.1, -0.3, 0.4]];
    const gb = [[0.5, 1], [-1, 0.25], [0.1, 0.1]];
    // step 0: the clip binds (q / lr > 1); steps 1-2: it does not (q / lr < 1)
    const lrs = [0.005, 0.3, 0.2];
    let wh = [...w0], bh = [...b0], mw = [0, 0, 0, 0], mb = [0, 0];
    const clipped: boolean[] = [];
    for (let s = 0; s < 3; s++) {
      const trust = 0.02 * norm(wh) / (norm(grads[s]) + 0.1 * norm(wh) + 1e-8);
      clipped.push(trust / lrs[s] > 1);
      const q = Math.min(trust / lrs[s], 1);
      const dp = grads[s].map((g, i) => q * (g + 0.1 * wh[i]));
      mw = s === 0 ? dp : mw.map((m, i) => 0.9 * m + dp[i]);
      wh = wh.map((x, i) => x - lrs[s] * mw[i]);
      mb = s === 0 ? gb[s] : mb.map((m, i) => 0.9 * m + gb[s][i]); // excluded: plain momentum
      bh = bh.map((x, i) => x - lrs[s] * mb[i]);
      tf.tidy(() =>
        opt.step({ [w.name]: tf.tensor2d(grads[s], [2, 2]), [b.name]: tf.tensor1d(gb[s]) }, {
          weights: lrs[s],
          biases: lrs[s],
        })
      );
    }
    assertEquals(clipped, [true, false, false], "the test covers both sides of the clip");
    close(w.dataSync(), wh, 1e-6, "weights");
    close(b.dataSync(), bh, 1e-7, "biases");
    opt.dispose();
    tf.dispose([w, b]);
  });
}

Deno.test("LARS solo_learn: zero weight or gradient means a plain step without decay", async () => {
  await tf.setBackend("cpu");
  const w = tf.variable(tf.zeros([2, 2]), true, "solo_zero_w");
  const opt = new LARS([{ name: "weights", variables: [w], weightDecay: 0.5, adapt: true }], {
    variant: "solo_learn",
  });
  tf.tidy(() => opt.step({ [w.name]: tf.tensor2d([1, 2, 3, 4], [2, 2]) }, { weights: 0.1 }));
  close(w.dataSync(), [-0.1, -0.2, -0.3, -0.4], 1e-7, "||w|| = 0: dp = g");
  opt.dispose();
  w.dispose();
  assertThrows(() => new LARS([], { variant: "nope" as "solo_learn" }), "variant");
});

for (const backend of ["cpu", "wasm"]) {
  Deno.test(`Adam (${backend}): three steps match torch.optim.Adam by hand, L2 decay`, async () => {
    await tf.setBackend(backend);
    const w0 = [0.5, -1, 2], b0 = [0.3];
    const w = tf.variable(tf.tensor1d(w0), true, `adam_w_${backend}`);
    const b = tf.variable(tf.tensor1d(b0), true, `adam_b_${backend}`);
    const opt = new Adam([
      { name: "weights", variables: [w], weightDecay: 0.01, adapt: true },
      { name: "biases", variables: [b], weightDecay: 0, adapt: false },
    ], { betas: [0.9, 0.99], eps: 1e-6 });
    const gw = [[0.1, -0.2, 0.3], [1, 0.5, -0.25], [-0.4, 0.2, 0.05]];
    const gb = [[2], [-1], [0.5]];
    const lr = [0.01, 0.02, 0.005];
    const ref = (x0: number[], gs: number[][], wd: number) => {
      let x = [...x0], m = x0.map(() => 0), v = x0.map(() => 0);
      for (let t = 1; t <= gs.length; t++) {
        const g = gs[t - 1].map((gi, i) => gi + wd * x[i]);
        m = m.map((mi, i) => 0.9 * mi + 0.1 * g[i]);
        v = v.map((vi, i) => 0.99 * vi + 0.01 * g[i] * g[i]);
        const mh = m.map((mi) => mi / (1 - 0.9 ** t)), vh = v.map((vi) => vi / (1 - 0.99 ** t));
        x = x.map((xi, i) => xi - lr[t - 1] * mh[i] / (Math.sqrt(vh[i]) + 1e-6));
      }
      return x;
    };
    for (let s = 0; s < 3; s++) {
      tf.tidy(() =>
        opt.step({ [w.name]: tf.tensor1d(gw[s]), [b.name]: tf.tensor1d(gb[s]) }, {
          weights: lr[s],
          biases: lr[s],
        })
      );
    }
    close(w.dataSync(), ref(w0, gw, 0.01), 1e-6, "weights");
    close(b.dataSync(), ref(b0, gb, 0), 1e-6, "bias");
    opt.dispose();
    tf.dispose([w, b]);
  });
}

Deno.test("Adam: state round-trips (per-variable step counts); resumed equals uninterrupted", async () => {
  await tf.setBackend("cpu");
  const make = (tag: string) =>
    tf.variable(tf.tensor2d([1, 2, 3, 4], [2, 2]), true, `adam_rt_${tag}`);
  const extra = (tag: string) => tf.variable(tf.tensor1d([1, -1]), true, `adam_rt_x_${tag}`);
  const grad = (s: number, v: tf.Variable) => tf.tensor2d([s, 1, -s, 0.5], [2, 2]).mul(v);
  const run = (w: tf.Variable, x: tf.Variable, opt: Adam, from: number, to: number) => {
    for (let s = from; s < to; s++) {
      // x gets gradients only from step 2 on: its bias correction starts there
      tf.tidy(() =>
        opt.step(
          s >= 2
            ? { [w.name]: grad(s, w), [x.name]: tf.tensor1d([s, 1]) }
            : { [w.name]: grad(s, w) },
          { weights: 0.1 },
        )
      );
    }
  };
  const group = (w: tf.Variable, x: tf.Variable) => [
    { name: "weights", variables: [w, x], weightDecay: 1e-3, adapt: false },
  ];
  const a = make("a"), ax = extra("a");
  const optA = new Adam(group(a, ax));
  run(a, ax, optA, 0, 5);
  const b = make("b"), bx = extra("b");
  const optB = new Adam(group(b, bx));
  run(b, bx, optB, 0, 3);
  const saved = optB.state();
  assertEquals(
    Object.keys(saved).sort(),
    [
      `${b.name}#m`,
      `${b.name}#step`,
      `${b.name}#v`,
      `${bx.name}#m`,
      `${bx.name}#step`,
      `${bx.name}#v`,
    ].sort(),
  );
  assertEquals(Array.from(saved[`${bx.name}#step`].dataSync()), [1]);
  assertEquals(splitStateKey(`${bx.name}#step`), { variable: bx.name, slot: "#step" });
  const c = make("c"), cx = extra("c");
  c.assign(b);
  cx.assign(bx);
  const optC = new Adam(group(c, cx));
  const renamed: Record<string, tf.Tensor> = {};
  for (const [k, t] of Object.entries(saved)) {
    const { variable, slot } = splitStateKey(k);
    renamed[(variable === b.name ? c.name : cx.name) + slot] = t;
  }
  optC.load(renamed);
  tf.dispose(Object.values(saved));
  run(c, cx, optC, 3, 5);
  assertEquals(Array.from(c.dataSync()), Array.from(a.dataSync()), "weights bit-equal");
  assertEquals(Array.from(cx.dataSync()), Array.from(ax.dataSync()), "late variable bit-equal");
  assertThrows(() => optC.load({ [`${c.name}#m`]: tf.zeros([2, 2]) }), "lacks slot");
  assertThrows(() => optC.load({ [`${c.name}#q`]: tf.zeros([2, 2]) }), "not <known variable>");
  assertThrows(() => optC.load({ [`${c.name}#step`]: tf.zeros([2]) }), "shape");
  assertThrows(() => new Adam([], { betas: [1, 0.9] }), "betas");
  for (const o of [optA, optB, optC]) o.dispose();
  tf.dispose([a, ax, b, bx, c, cx]);
});

Deno.test("createOptimizer: by name; one group when biases are not excluded", async () => {
  await tf.setBackend("cpu");
  const w = tf.variable(tf.ones([2, 2]), true, "factory_w");
  const b = tf.variable(tf.ones([2]), true, "factory_b");
  const one = splitParamGroups([w, b], { weightDecay: 0.1, excludeBiasAndNorm: false });
  assertEquals(one.map((g) => [g.name, g.variables.length, g.weightDecay]), [["weights", 2, 0.1]]);
  const groups = splitParamGroups([w, b], { weightDecay: 0.1 });
  assert(createOptimizer({ name: "lars" }, groups) instanceof LARS);
  assert(createOptimizer({ name: "sgd", momentum: 0.5 }, groups) instanceof SGD);
  assert(createOptimizer({ name: "adam" }, groups) instanceof Adam);
  assertThrows(() => createOptimizer({ name: "rmsprop" as "sgd" }, groups), "unknown optimizer");
  tf.dispose([w, b]);
});
