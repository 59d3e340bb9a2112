import { assert, assertAlmostEquals, assertThrows } from "./assert.ts";
import { tf } from "../arb/tf.ts";
import { Rng } from "../arb/rng.ts";
import { losses } from "../arb/losses/mod.ts";
import { eye, inverseSqrtDB, lincomb, type Mat, mat, mul, transpose } from "./ref_linalg.ts";

const BACKENDS = ["cpu", "wasm"];

// ---------- independent float64 references ----------

function standardize(x: Mat): Mat {
  const n = x[0].length;
  return x.map((r) => {
    const m = r.reduce((s, v) => s + v, 0) / n;
    const sd = Math.sqrt(r.reduce((s, v) => s + (v - m) ** 2, 0) / (n - 1));
    return r.map((v) => (v - m) / (sd + 1e-5));
  });
}

function zca(x: Mat, groups: number): Mat {
  const g = x.length / groups, n = x[0].length;
  const out: Mat = [];
  for (let k = 0; k < groups; k++) {
    const xg = x.slice(k * g, (k + 1) * g);
    const c = mul(xg, transpose(xg)).map((r) => r.map((v) => v / (n - 1)));
    const shrunk = lincomb(1 - 1e-4, c, 1e-4, eye(g));
    out.push(...mul(inverseSqrtDB(lincomb(1, shrunk, 1e-5, eye(g))), xg));
  }
  return out;
}

/** Rows of the ARB pipeline before alignment: transpose, permute, standardise. */
function arbRows(z: Mat, perm?: number[]): Mat {
  const t = transpose(z);
  return standardize(perm ? perm.map((i) => t[i]) : t);
}

function align(x: Mat, b: Mat): number {
  const n = x[0].length;
  return x.reduce((s, r, i) => s + (r.reduce((t, v, j) => t + v * b[i][j], 0) / n - 1) ** 2, 0);
}

/** ARB in float64; `bases` freezes the bases (for the gradient check). */
function arbRef(z1: Mat, z2: Mat, groups: number, perm?: number[], bases?: [Mat, Mat]): number {
  const x1 = arbRows(z1, perm), x2 = arbRows(z2, perm);
  const [b1, b2] = bases ?? [zca(x1, groups), zca(x2, groups)];
  return align(x1, b2) + align(x2, b1);
}

function barlowRef(z1: Mat, z2: Mat, lambda = 0.0051): number {
  const bn = (z: Mat) => {
    const t = transpose(z), n = z.length;
    return transpose(t.map((r) => {
      const m = r.reduce((s, v) => s + v, 0) / n;
      const v = r.reduce((s, x) => s + (x - m) ** 2, 0) / n;
      return r.map((x) => (x - m) / Math.sqrt(v + 1e-5));
    }));
  };
  const c = mul(transpose(bn(z1)), bn(z2)).map((r) => r.map((v) => v / z1.length));
  let loss = 0;
  c.forEach((r, i) => r.forEach((v, j) => (loss += i === j ? (v - 1) ** 2 : lambda * v * v)));
  return loss;
}

/** Central finite-difference gradient of f at z (float64). */
function fdGrad(f: (z: Mat) => number, z: Mat, h = 1e-6): Mat {
  return z.map((r, i) =>
    r.map((_, j) => {
      const zp = z.map((row) => [...row]), zm = z.map((row) => [...row]);
      zp[i][j] += h;
      zm[i][j] -= h;
      return (f(zp) - f(zm)) / (2 * h);
    })
  );
}

function maxRelErr(got: number[][], want: Mat): number {
  const scale = Math.max(...want.flat().map(Math.abs));
  return Math.max(...got.flat().map((v, k) => Math.abs(v - want.flat()[k]))) / scale;
}

function randomViews(rng: Rng, n: number, d: number): [Mat, Mat] {
  // correlated views with unequal feature scales and offsets
  const z1 = mat(n, d, (_, j) => (1 + j) * rng.normal() + j);
  const z2 = z1.map((r) => r.map((v) => v + 0.7 * rng.normal()));
  return [z1, z2];
}

const fixedPerm = (d: number) => Array.from({ length: d }, (_, i) => (i * 5 + 3) % d); // d odd-coprime to 5

// ---------- tests ----------

for (const backend of BACKENDS) {
  Deno.test(`arb (${backend}): equals the float64 reference (groups 1 and 2, swap)`, async () => {
    await tf.setBackend(backend);
    const rng = new Rng(1);
    const cases: [number, number, number, boolean][] = [
      [12, 6, 1, false],
      [12, 6, 2, false],
      [12, 6, 2, true],
      [8, 8, 1, false], // D = N: singular covariance, kept finite by the shrinkage
      [6, 12, 3, true], // D > N
    ];
    for (const [n, d, groups, swap] of cases) {
      const [z1, z2] = randomViews(rng, n, d);
      const perm = swap ? fixedPerm(d) : undefined;
      const want = arbRef(z1, z2, groups, perm);
      for (const whitening of ["eigh", "newton_schulz"] as const) {
        const before = tf.memory().numTensors;
        const [t1, t2] = [tf.tensor2d(z1), tf.tensor2d(z2)];
        const loss = losses.arb(t1, t2, { groups, swap, permutation: perm, whitening });
        const got = loss.dataSync()[0];
        tf.dispose([t1, t2, loss]);
        assert(tf.memory().numTensors === before, "no tensor leak");
        assertAlmostEquals(
          got,
          want,
          2e-4 * Math.max(1, want),
          `N=${n} D=${d} G=${groups} ${whitening}`,
        );
      }
    }
  });

  Deno.test(`barlow_twins (${backend}): equals the float64 reference`, async () => {
    await tf.setBackend(backend);
    const rng = new Rng(2);
    for (const [n, d] of [[10, 4], [16, 16], [5, 9]]) {
      const [z1, z2] = randomViews(rng, n, d);
      const [t1, t2] = [tf.tensor2d(z1), tf.tensor2d(z2)];
      const loss = losses.barlow_twins(t1, t2);
      assertAlmostEquals(loss.dataSync()[0], barlowRef(z1, z2), 1e-4 * barlowRef(z1, z2));
      const l2 = losses.barlow_twins(t1, t2, { lambda: 0.5 });
      assertAlmostEquals(l2.dataSync()[0], barlowRef(z1, z2, 0.5), 1e-4 * barlowRef(z1, z2, 0.5));
      tf.dispose([t1, t2, loss, l2]);
    }
  });
}

Deno.test("arb: gradient equals finite differences of the loss with the bases held fixed", async () => {
  await tf.setBackend("cpu");
  const rng = new Rng(3);
  for (const [n, d, groups, swap] of [[8, 4, 1, false], [8, 6, 2, true]] as const) {
    const [z1, z2] = randomViews(rng, n, d);
    const perm = swap ? fixedPerm(d) : undefined;
    const bases: [Mat, Mat] = [zca(arbRows(z1, perm), groups), zca(arbRows(z2, perm), groups)];
    const frozen1 = fdGrad((z) => arbRef(z, z2, groups, perm, bases), z1);
    const frozen2 = fdGrad((z) => arbRef(z1, z, groups, perm, bases), z2);
    const [t1, t2] = [tf.tensor2d(z1), tf.tensor2d(z2)];
    const [g1, g2] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      losses.arb(a as tf.Tensor2D, b as tf.Tensor2D, { groups, swap, permutation: perm })
    )([t1, t2]);
    const e1 = maxRelErr(g1.arraySync() as number[][], frozen1);
    const e2 = maxRelErr(g2.arraySync() as number[][], frozen2);
    assert(e1 < 2e-3 && e2 < 2e-3, `N=${n} D=${d}: relative gradient errors ${e1}, ${e2}`);
    // and the base really is detached: the gradient of the full function differs
    const full1 = fdGrad((z) => arbRef(z, z2, groups, perm), z1);
    assert(maxRelErr(g1.arraySync() as number[][], full1) > 0.05, "base must carry no gradient");
    tf.dispose([t1, t2, g1, g2]);
  }
});

Deno.test("barlow_twins: gradient equals float64 and float32 finite differences", async () => {
  await tf.setBackend("cpu");
  const rng = new Rng(4);
  const [z1, z2] = randomViews(rng, 6, 3);
  const [t1, t2] = [tf.tensor2d(z1), tf.tensor2d(z2)];
  const loss = (a: tf.Tensor, b: tf.Tensor) =>
    losses.barlow_twins(a as tf.Tensor2D, b as tf.Tensor2D);
  const [g1, g2] = tf.grads(loss)([t1, t2]);
  const ref1 = fdGrad((z) => barlowRef(z, z2), z1), ref2 = fdGrad((z) => barlowRef(z1, z), z2);
  assert(maxRelErr(g1.arraySync() as number[][], ref1) < 1e-3, "dL/dz1 vs float64 FD");
  assert(maxRelErr(g2.arraySync() as number[][], ref2) < 1e-3, "dL/dz2 vs float64 FD");
  // float32 central differences through tfjs itself (step 1e-2 on O(1) inputs)
  const h = 1e-2;
  const fd32 = z1.map((r, i) =>
    r.map((_, j) => {
      const zp = z1.map((row) => [...row]), zm = z1.map((row) => [...row]);
      zp[i][j] += h;
      zm[i][j] -= h;
      return tf.tidy(() =>
        (loss(tf.tensor2d(zp), t2).dataSync()[0] - loss(tf.tensor2d(zm), t2).dataSync()[0]) /
        (2 * h)
      );
    })
  );
  assert(maxRelErr(g1.arraySync() as number[][], fd32) < 2e-2, "dL/dz1 vs float32 FD");
  tf.dispose([t1, t2, g1, g2]);
});

Deno.test("losses: wasm gradients equal cpu gradients; tensor count flat across steps", async () => {
  const rng = new Rng(8);
  const [z1, z2] = randomViews(rng, 12, 6);
  const cases: [string, Record<string, unknown>][] = [
    ["arb", { groups: 2, swap: true, permutation: fixedPerm(6) }],
    ["arb", { groups: 3, swap: true, rng: new Rng(4) }],
    ["arb", { whitening: "newton_schulz" }],
    ["barlow_twins", {}],
  ];
  const grads: Record<string, number[][][]> = {};
  for (const backend of BACKENDS) {
    await tf.setBackend(backend);
    const [t1, t2] = [tf.tensor2d(z1), tf.tensor2d(z2)];
    cases.forEach(([name, opts], k) => {
      const o = { ...opts, ...(opts.rng ? { rng: new Rng(4) } : {}) }; // same permutation per backend
      const f = (a: tf.Tensor, b: tf.Tensor) => losses[name](a as tf.Tensor2D, b as tf.Tensor2D, o);
      const counts: number[] = [];
      for (let step = 0; step < 3; step++) {
        const g = tf.grads(f)([t1, t2]);
        if (step === 0) grads[`${backend}${k}`] = g.map((x) => x.arraySync() as number[][]);
        tf.dispose(g);
        counts.push(tf.memory().numTensors);
      }
      assert(counts.every((c) => c === counts[0]), `${backend} ${name}: tensor counts ${counts}`);
    });
    tf.dispose([t1, t2]);
  }
  cases.forEach(([name], k) => {
    for (const v of [0, 1]) {
      const err = maxRelErr(grads[`wasm${k}`][v], grads[`cpu${k}`][v]);
      assert(err < 1e-3, `${name} case ${k}: wasm vs cpu gradient ${err}`);
    }
  });
});

Deno.test("arb: already-white identical views give the closed-form minimum", async () => {
  // Rows 1..D of the 8x8 Sylvester-Hadamard matrix: zero mean, orthogonal, sum of squares 8.
  const hadamard = (i: number, j: number) => (-1) ** popcount(i & j);
  const n = 8, d = 4;
  const z = mat(n, d, (s, f) => 3 * hadamard(f + 1, s) + 2); // scale and shift are standardised away
  const sigma = 3 * Math.sqrt(8 / 7), s = sigma / (sigma + 1e-5); // std and its eps-shrink
  const c = (1 - 1e-4) * s * s + 1e-4; // shrunk covariance eigenvalue (C = s^2 I)
  const w = 1 / Math.sqrt(c + 1e-5);
  const term = ((n - 1) * s * s * w / n - 1) ** 2; // x_i . b_i = w (N - 1) s^2
  for (const backend of BACKENDS) {
    await tf.setBackend(backend);
    const t = tf.tensor2d(z);
    for (const groups of [1, 2, 4]) {
      const loss = losses.arb(t, t, { groups });
      assertAlmostEquals(loss.dataSync()[0], 2 * d * term, 1e-6, `${backend} groups=${groups}`);
      loss.dispose();
    }
    t.dispose();
  }
  // the per-row term is minimised at (x . b) = N, out of reach: |x|^2 = |b|^2 ~ N - 1
  assert(Math.abs(2 * d * term - 2 * d / (n * n)) < 1e-3, "minimum is about 2D/N^2");
});

Deno.test("arb: invariances (view symmetry, feature affine maps, swap with G=1, swap = permuted input)", async () => {
  await tf.setBackend("cpu");
  const rng = new Rng(5);
  const [n, d] = [16, 6];
  const [z1, z2] = randomViews(rng, n, d);
  const val = (a: Mat, b: Mat, o: Record<string, unknown> = {}) =>
    tf.tidy(() => losses.arb(tf.tensor2d(a), tf.tensor2d(b), o).dataSync()[0]);
  const base = val(z1, z2, { groups: 2 });
  assertAlmostEquals(val(z2, z1, { groups: 2 }), base, 1e-5 * base, "symmetric in the views");
  const scaled = (z: Mat) => z.map((r) => r.map((v, j) => (j + 0.5) * v - 3 * j));
  assertAlmostEquals(val(scaled(z1), scaled(z2), { groups: 2 }), base, 1e-4 * base, "affine");
  const g1 = val(z1, z2);
  const perm = fixedPerm(d);
  assertAlmostEquals(val(z1, z2, { swap: true, permutation: perm }), g1, 1e-5 * g1, "G=1 swap");
  const permCols = (z: Mat) => z.map((r) => perm.map((i) => r[i]));
  assertAlmostEquals(
    val(z1, z2, { groups: 2, swap: true, permutation: perm }),
    val(permCols(z1), permCols(z2), { groups: 2 }),
    1e-5 * base,
    "swap permutes the features",
  );
  // rng-driven swap: seeded, so the same seed gives the same loss
  const a = val(z1, z2, { groups: 3, swap: true, rng: new Rng(9) });
  const b = val(z1, z2, { groups: 3, swap: true, rng: new Rng(9) });
  assert(a === b, "same seed, same permutation");
});

Deno.test("arb: bad input and failed whitening are loud errors", async () => {
  await tf.setBackend("cpu");
  const z = tf.tensor2d([[1, 2], [3, 5], [2, 2], [0, 1]]);
  const bad = tf.tensor2d([[1, 2], [3, NaN], [2, 2], [0, 1]]);
  assertThrows(() => losses.arb(z, bad), "non-finite");
  // the device whitening reads nothing back: the loss is NaN, on which the trainer stops
  const nan = losses.arb(z, bad, { whitening: "newton_schulz" });
  assert(Number.isNaN(nan.dataSync()[0]), "newton_schulz: NaN loss");
  nan.dispose();
  assertThrows(() => losses.arb(z, z, { swap: true }), "needs an `rng`");
  assertThrows(() => losses.arb(z, z, { groups: 3 }), "groups=3");
  assertThrows(() => losses.arb(z, z, { gruops: 2 }), "gruops");
  assertThrows(() => losses.arb(z, z, { swap: true, permutation: [0, 0] }), "permutation");
  assertThrows(() => losses.arb(z, tf.tensor2d([[1, 2]])), "N x D");
  assertThrows(() => losses.barlow_twins(z, z, { lamda: 1 }), "lamda");
  tf.dispose([z, bad]);
});

function popcount(x: number): number {
  let c = 0;
  for (; x; x &= x - 1) c++;
  return c;
}
