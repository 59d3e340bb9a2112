import { assert, assertAlmostEquals, assertThrows } from "./assert.ts";
import { tf } from "../arb/tf.ts";
import { Rng } from "../arb/rng.ts";
import {
  inverseSqrtHost,
  inverseSqrtSymmetric,
  jacobiEigen,
  NEWTON_SCHULZ_MAX_RESIDUAL,
  newtonSchulzInverseSqrt,
  newtonSchulzInverseSqrtDevice,
  newtonSchulzIterations,
  stopGradient,
  symmetricEigen,
  zcaBase,
  zcaNewtonSchulzSteps,
} from "../arb/linalg/mod.ts";
import { withoutSyncReads } from "./helpers/no_sync_reads.ts";
import {
  eye,
  flat,
  fromSpectrum,
  inverseSqrtDB,
  lincomb,
  mat,
  maxAbs,
  maxAbsDiff,
  mul,
  randomOrthogonal,
  transpose,
  unflat,
} from "./ref_linalg.ts";

const ALGORITHMS = ["ql", "jacobi"] as const;
const BACKENDS = ["cpu", "wasm"];

Deno.test("eigen: 2x2 closed form, both algorithms", () => {
  for (const [a, b, c] of [[2, 1, 2], [1, 0, 5], [3, -2, -1], [1e-8, 1e-9, 2e-8], [0, 0, 0]]) {
    const mean = (a + c) / 2, r = Math.hypot((a - c) / 2, b);
    for (const alg of ALGORITHMS) {
      const { values, vectors } = symmetricEigen([a, b, b, c], 2, alg);
      const tol = 1e-14 * Math.max(1, Math.abs(a) + Math.abs(c) + Math.abs(b));
      assertAlmostEquals(values[0], mean - r, tol, `${alg} small eigenvalue of ${[a, b, c]}`);
      assertAlmostEquals(values[1], mean + r, tol, `${alg} large eigenvalue of ${[a, b, c]}`);
      // A v = lambda v for each column
      for (let j = 0; j < 2; j++) {
        const v0 = vectors[j], v1 = vectors[2 + j];
        assertAlmostEquals(a * v0 + b * v1, values[j] * v0, tol);
        assertAlmostEquals(b * v0 + c * v1, values[j] * v1, tol);
      }
    }
  }
});

Deno.test("eigen: random Q diag(lambda) Q^T recovers lambda and Q, both algorithms", () => {
  const rng = new Rng(11);
  for (const n of [1, 3, 17, 64]) {
    const q = randomOrthogonal(n, rng);
    const lambda = Array.from({ length: n }, (_, i) => (i + 1) * 0.5 + rng.uniform() * 0.1 - 3);
    const a = fromSpectrum(q, lambda);
    const sorted = [...lambda].map((l, i) => [l, i]).sort((x, y) => x[0] - y[0]);
    for (const alg of ALGORITHMS) {
      const { values, vectors } = symmetricEigen(flat(a), n, alg);
      const v = unflat(vectors, n);
      sorted.forEach(([l, src], j) => {
        assertAlmostEquals(values[j], l, 1e-12 * n, `${alg} n=${n} eigenvalue ${j}`);
        // the eigenvector matches column src of Q up to sign
        const dot = q.reduce((s, row, k) => s + row[src] * v[k][j], 0);
        assertAlmostEquals(Math.abs(dot), 1, 1e-10, `${alg} n=${n} eigenvector ${j}`);
      });
      assert(maxAbsDiff(mul(transpose(v), v), eye(n)) < 1e-13 * n, `${alg} V orthogonal`);
    }
  }
});

Deno.test("eigen: repeated eigenvalues still reconstruct A with orthogonal V", () => {
  const rng = new Rng(5);
  const n = 12;
  const q = randomOrthogonal(n, rng);
  const lambda = Array.from({ length: n }, (_, i) => (i < 6 ? 2 : i < 10 ? 0 : -1));
  const a = fromSpectrum(q, lambda);
  for (const alg of ALGORITHMS) {
    const { values, vectors } = symmetricEigen(flat(a), n, alg);
    const v = unflat(vectors, n);
    const rebuilt = fromSpectrum(v, Array.from(values));
    assert(maxAbsDiff(rebuilt, a) < 1e-13, `${alg} reconstruction`);
    assert(maxAbsDiff(mul(transpose(v), v), eye(n)) < 1e-13, `${alg} orthogonality`);
  }
});

Deno.test("eigen: Jacobi and QL agree on a random 64 x 64 covariance", () => {
  const rng = new Rng(3);
  const x = mat(64, 80, () => rng.normal());
  const c = flat(mul(x, transpose(x)));
  const a = symmetricEigen(c, 64, "ql"), b = jacobiEigen(c, 64);
  for (let i = 0; i < 64; i++) assertAlmostEquals(a.values[i], b.values[i], 1e-11);
});

Deno.test("eigen: bad input is a clear error", () => {
  for (const alg of ALGORITHMS) {
    assertThrows(() => symmetricEigen([1, NaN, NaN, 1], 2, alg), "non-finite");
    assertThrows(() => symmetricEigen([1, 2, 3], 2, alg), "expected 4 entries");
  }
});

Deno.test("inverseSqrtHost: matches Q diag((lambda + eps)^-1/2) Q^T", () => {
  const rng = new Rng(2);
  for (const n of [1, 5, 40]) {
    const q = randomOrthogonal(n, rng);
    const lambda = Array.from(
      { length: n },
      (_, i) => (i === 0 ? 0 : 10 ** (-3 + 4 * rng.uniform())),
    );
    const eps = 1e-5;
    const expected = fromSpectrum(q, lambda.map((l) => 1 / Math.sqrt(l + eps)));
    for (const algorithm of ALGORITHMS) {
      const got = unflat(inverseSqrtHost(flat(fromSpectrum(q, lambda)), n, { eps, algorithm }), n);
      // condition number up to 1e6 with a zero eigenvalue: relative error ~ cond * 1e-16
      assert(maxAbsDiff(got, expected) < 1e-8 * maxAbs(expected), `${algorithm} n=${n}`);
    }
  }
  assertThrows(() => inverseSqrtHost([-1, 0, 0, 1], 2), "not positive");
});

Deno.test("newtonSchulzIterations: 0 at ratio 1, grows like log(1/ratio)/log(9/4)", () => {
  assert(newtonSchulzIterations(1) === 0);
  let prev = 0;
  for (const r of [0.5, 1e-2, 1e-4, 1e-6, 1e-8]) {
    const k = newtonSchulzIterations(r);
    assert(k > prev, `more steps for a smaller ratio ${r}`);
    assert(k <= Math.log(1 / r) / Math.log(2.25) + 8, `${k} steps for ratio ${r}`);
    prev = k;
  }
  assertThrows(() => newtonSchulzIterations(0), "minRatio");
});

for (const backend of BACKENDS) {
  Deno.test(`inverseSqrtSymmetric (${backend}): eigh and Newton-Schulz match the float64 reference`, async () => {
    await tf.setBackend(backend);
    const rng = new Rng(7);
    const n = 24, eps = 1e-5;
    // a batch of two: one well-conditioned, one with eigenvalues down to 1e-4 and a zero one
    const spectra = [
      Array.from({ length: n }, () => 0.5 + rng.uniform()),
      Array.from({ length: n }, (_, i) => (i === 0 ? 0 : 10 ** (-4 + 4.5 * rng.uniform()))),
    ];
    const mats = spectra.map((s) => fromSpectrum(randomOrthogonal(n, rng), s));
    const expected = mats.map((a) => inverseSqrtDB(lincomb(1, a, eps, eye(n))));
    const before = tf.memory().numTensors;
    const c = tf.tensor3d(mats.map((m) => m), [2, n, n], "float32");
    for (const method of ["eigh", "newton_schulz"] as const) {
      const w = inverseSqrtSymmetric(c, { method, eps });
      const got = w.arraySync() as number[][][];
      w.dispose();
      expected.forEach((e, b) => {
        // float32 input: the matrix itself is only known to ~1e-7 relative; the
        // ill-conditioned one (cond ~ 1e5 after eps) amplifies that.
        const tol = (b === 0 ? 1e-5 : 2e-3) * maxAbs(e);
        const diff = maxAbsDiff(got[b], e);
        assert(diff < tol, `${method} matrix ${b}: max diff ${diff} > ${tol}`);
      });
      // a single matrix too
      const c2 = tf.tensor2d(mats[0]);
      const w2 = inverseSqrtSymmetric(c2, { method, eps });
      assert(maxAbsDiff(w2.arraySync() as number[][], expected[0]) < 1e-5 * maxAbs(expected[0]));
      tf.dispose([c2, w2]);
    }
    c.dispose();
    tf.disposeVariables();
    assert(
      tf.memory().numTensors === before,
      `tensor leak: ${tf.memory().numTensors} vs ${before}`,
    );
  });

  Deno.test(`newtonSchulz (${backend}): a non-PSD matrix fails loudly`, async () => {
    await tf.setBackend(backend);
    const before = tf.memory().numTensors;
    const c = tf.tensor2d([[1, 0, 0], [0, -0.5, 0], [0, 0, 2]]);
    assertThrows(() => newtonSchulzInverseSqrt(c), "no convergence");
    c.dispose();
    assert(tf.memory().numTensors === before, "no leak on error");
  });

  Deno.test(`zcaBase (${backend}): matches float64 ZCA, rows orthonormal, eigh ~ Newton-Schulz`, async () => {
    await tf.setBackend(backend);
    const rng = new Rng(9);
    const [d, n] = [12, 40];
    // correlated rows with unequal scales
    const mix = mat(d, d, () => rng.normal());
    const x = mul(mix, mat(d, n, () => rng.normal()));
    const xt = tf.tensor2d(x);
    const before = tf.memory().numTensors;
    for (const groups of [1, 2, 3]) {
      const g = d / groups;
      const expected: number[][] = [];
      for (let k = 0; k < groups; k++) {
        const xg = x.slice(k * g, (k + 1) * g);
        const c = mul(xg, transpose(xg)).map((r) => r.map((v) => v / (n - 1)));
        const shrunk = lincomb(1 - 1e-4, c, 1e-4, eye(g));
        expected.push(...mul(inverseSqrtDB(lincomb(1, shrunk, 1e-5, eye(g))), xg));
      }
      for (const method of ["eigh", "newton_schulz"] as const) {
        const b = zcaBase(xt, { groups, method });
        const got = b.arraySync();
        const diff = maxAbsDiff(got, expected);
        assert(diff < 2e-4 * maxAbs(expected), `groups=${groups} ${method}: diff ${diff}`);
        // B B^T / (N - 1) ~ I within each group (shrinkage moves it by ~1e-4)
        for (let k = 0; k < groups; k++) {
          const bg = got.slice(k * g, (k + 1) * g);
          const cov = mul(bg, transpose(bg)).map((r) => r.map((v) => v / (n - 1)));
          const off = maxAbsDiff(cov, eye(g));
          assert(off < 2e-3, `groups=${groups} ${method} group ${k}: |BB^T/(N-1) - I| = ${off}`);
        }
        b.dispose();
      }
    }
    assert(tf.memory().numTensors === before, "zcaBase leaks no tensors");
    xt.dispose();
  });

  Deno.test(`zcaBase (${backend}): near-singular covariance (D >= N) stays finite`, async () => {
    await tf.setBackend(backend);
    const rng = new Rng(4);
    for (const [d, n, groups] of [[16, 16, 1], [32, 8, 1], [32, 8, 2], [64, 64, 1]]) {
      const x = mat(d, n, () => rng.normal());
      // rows centred as after standardisation: rank <= N - 1
      const centred = x.map((r) => {
        const m = r.reduce((s, v) => s + v, 0) / n;
        return r.map((v) => v - m);
      });
      const xt = tf.tensor2d(centred);
      const g = d / groups;
      const expected: number[][] = [];
      for (let k = 0; k < groups; k++) {
        const xg = centred.slice(k * g, (k + 1) * g);
        const c = mul(xg, transpose(xg)).map((r) => r.map((v) => v / (n - 1)));
        const shrunk = lincomb(1 - 1e-4, c, 1e-4, eye(g));
        expected.push(...mul(inverseSqrtDB(lincomb(1, shrunk, 1e-5, eye(g))), xg));
      }
      for (const method of ["eigh", "newton_schulz"] as const) {
        const b = zcaBase(xt, { groups, method });
        const got = b.arraySync();
        b.dispose();
        assert(got.every((r) => r.every(Number.isFinite)), `${d}x${n} ${method}: finite`);
        const diff = maxAbsDiff(got, expected);
        assert(diff < 2e-3 * maxAbs(expected), `${d}x${n} ${method}: diff ${diff}`);
        // per group, B B^T / (N - 1) has eigenvalues s / ((1 - 1e-4) s + 1e-4 + 1e-5) for the
        // eigenvalues s of C: all in [0, 1], and at least g - (N - 1) of them zero (rank)
        for (let k = 0; k < groups; k++) {
          const bg = got.slice(k * g, (k + 1) * g);
          const cov = mul(bg, transpose(bg)).map((r) => r.map((v) => v / (n - 1)));
          const { values } = symmetricEigen(flat(cov), g);
          assert(values.every((v) => v > -1e-5 && v < 1 + 1e-3), `${d}x${n} ${method}: ${values}`);
          const zeros = Array.from(values).filter((v) => Math.abs(v) < 1e-3).length;
          assert(zeros >= g - (n - 1), `${d}x${n} ${method}: ${zeros} zero eigenvalues`);
        }
      }
      xt.dispose();
    }
  });

  Deno.test(`zcaBase (${backend}): non-finite input fails loudly, never falls back`, async () => {
    await tf.setBackend(backend);
    const x = tf.tensor2d([[1, 2, 3], [4, NaN, 6]]);
    assertThrows(() => zcaBase(x), "non-finite");
    // the device path reads nothing back: the whole group comes back NaN instead
    const b = zcaBase(x, { method: "newton_schulz" });
    assert(Array.from(b.dataSync()).every(Number.isNaN), "newton_schulz: every entry NaN");
    b.dispose();
    assertThrows(() => zcaBase(x, { groups: 3 }), "groups=3");
    x.dispose();
  });

  Deno.test(`newtonSchulzInverseSqrtDevice (${backend}): float64 reference at the fixed step count, no read back`, async () => {
    await tf.setBackend(backend);
    const rng = new Rng(17);
    const n = 24, eps = 1e-5, lowerBound = 1e-4;
    // eigenvalues in [1e-4, 1] (as after shrinkage) and one well-conditioned matrix
    const spectra = [
      Array.from({ length: n }, (_, i) => (i === 0 ? lowerBound : 10 ** (-4 + 4 * rng.uniform()))),
      Array.from({ length: n }, () => 0.5 + rng.uniform()),
    ];
    const mats = spectra.map((s) => fromSpectrum(randomOrthogonal(n, rng), s));
    const expected = mats.map((a) => inverseSqrtDB(lincomb(1, a, eps, eye(n))));
    // ||C + eps I||_F <= sqrt(n) * 1.5 + eps: the step count from that bound, fixed in advance
    const iterations = newtonSchulzIterations((lowerBound + eps) / (1.5 * Math.sqrt(n) + eps));
    const before = tf.memory().numTensors;
    const c = tf.tensor3d(mats, [2, n, n], "float32");
    const r = withoutSyncReads(() => newtonSchulzInverseSqrtDevice(c, { eps, iterations }));
    const got = r.value.arraySync() as number[][][];
    const residual = Array.from(r.residual.dataSync());
    tf.dispose([c, r.value, r.residual]);
    assert(r.iterations === iterations);
    expected.forEach((e, b) => {
      const tol = (b === 0 ? 2e-3 : 1e-5) * maxAbs(e);
      const diff = maxAbsDiff(got[b], e);
      assert(diff < tol, `matrix ${b}: max diff ${diff} > ${tol}`);
      assert(residual[b] <= NEWTON_SCHULZ_MAX_RESIDUAL, `matrix ${b}: residual ${residual[b]}`);
    });
    // a non-PSD matrix next to a good one: only its own block is NaN
    const bad = tf.tensor3d([[[1, 0], [0, -0.5]], [[2, 0], [0, 1]]]);
    const rb = withoutSyncReads(() => newtonSchulzInverseSqrtDevice(bad, { eps, iterations: 30 }));
    const vb = rb.value.arraySync() as number[][][];
    assert(vb[0].flat().every(Number.isNaN), `non-PSD block NaN: ${vb[0]}`);
    assert(maxAbsDiff(vb[1], [[1 / Math.sqrt(2 + eps), 0], [0, 1 / Math.sqrt(1 + eps)]]) < 1e-6);
    assert(!(rb.residual.dataSync()[0] <= NEWTON_SCHULZ_MAX_RESIDUAL), "its residual is reported");
    tf.dispose([bad, rb.value, rb.residual]);
    assert(tf.memory().numTensors === before, "no leak");
  });

  Deno.test(`zcaBase (${backend}): newton_schulz reads nothing back, fixed steps reach the float64 base even for collapsed rows`, async () => {
    await tf.setBackend(backend);
    const rng = new Rng(23);
    const [d, n] = [64, 96];
    // worst case of the step-count bound: standardised, almost identical rows (collapse), so
    // ||C||_F is near d and the smallest eigenvalues are the shrinkage
    const common = Array.from({ length: n }, () => rng.normal());
    const raw = mat(d, n, (_, j) => common[j] + 1e-3 * rng.normal());
    const x = raw.map((r) => {
      const m = r.reduce((s, v) => s + v, 0) / n;
      const sd = Math.sqrt(r.reduce((s, v) => s + (v - m) ** 2, 0) / (n - 1));
      return r.map((v) => (v - m) / (sd + 1e-5));
    });
    const c = mul(x, transpose(x)).map((r) => r.map((v) => v / (n - 1)));
    const shrunk = lincomb(1 - 1e-4, c, 1e-4, eye(d));
    const expected = mul(inverseSqrtDB(lincomb(1, shrunk, 1e-5, eye(d))), x);
    const xt = tf.tensor2d(x);
    const b = withoutSyncReads(() => zcaBase(xt, { method: "newton_schulz" }));
    const got = b.arraySync();
    tf.dispose([xt, b]);
    assert(zcaNewtonSchulzSteps(d) === newtonSchulzIterations(1.1e-4 / (0.9999 * d + 1.1e-4 * 8)));
    const diff = maxAbsDiff(got, expected);
    assert(diff < 5e-3 * maxAbs(expected), `collapsed rows: diff ${diff} of ${maxAbs(expected)}`);
  });

  Deno.test(`zcaBase (${backend}): newton_schulz marks a group it cannot whiten as NaN, only that group`, async () => {
    await tf.setBackend(backend);
    const rng = new Rng(29);
    // group 0: rows 1e4 times larger than maxRowVariance allows, rank-deficient (D > N), so
    // the fixed step count cannot reach the shrinkage eigenvalues; group 1: standardised-size
    const n = 8;
    const x = mat(32, n, (i) => (i < 16 ? 1e4 : 1) * rng.normal());
    const xt = tf.tensor2d(x);
    const b = zcaBase(xt, { groups: 2, method: "newton_schulz" });
    const got = b.arraySync();
    tf.dispose([xt, b]);
    assert(got.slice(0, 16).flat().every(Number.isNaN), "the oversized group is NaN");
    assert(got.slice(16).flat().every(Number.isFinite), "the other group is whitened");
    assertThrows(
      () => zcaBase(xt, { method: "newton_schulz", maxRowVariance: 0 }),
      "maxRowVariance",
    );
  });

  Deno.test(`stopGradient (${backend}): same values, zero gradient`, async () => {
    await tf.setBackend(backend);
    const x = tf.tensor1d([3, -2]);
    const g = tf.grad((v: tf.Tensor) => stopGradient(v).mul(v).sum())(x);
    assert(maxAbsDiff([Array.from(g.dataSync())], [[3, -2]]) === 0);
    tf.dispose([x, g]);
  });
}
