import { tf } from "../arb/tf.ts";
import { Rng } from "../arb/rng.ts";
import {
  cholesky,
  choleskyF64,
  invertLowerF64,
  solveLowerTriangular,
} from "../arb/linalg/cholesky.ts";
import { choleskyOnDevice, solveLowerOnDevice } from "../arb/linalg/cholesky_device.ts";
import { assert, assertAlmostEquals, assertThrows } from "./assert.ts";
import {
  cholesky64,
  finiteDifference,
  matmul,
  randn,
  relativeError,
  solveLower64,
  transpose,
  unflatten,
} from "./reference64.ts";

await tf.setBackend("cpu");

/** A well-conditioned symmetric positive-definite n x n matrix: M M^T / n + I. */
function spd(rng: Rng, n: number): number[][] {
  const m = randn(rng, n, n);
  return matmul(m, transpose(m)).map((r, i) => r.map((v, j) => v / n + (i === j ? 1 : 0)));
}

Deno.test("choleskyF64: known 2x2 factor and L L^T = A at n = 64", () => {
  assertAlmostEquals(choleskyF64([4, 2, 2, 5], 2)[2], 1, 1e-15);
  const a = spd(new Rng(1), 64);
  const l = unflatten(choleskyF64(a.flat(), 64), 64, 64);
  const back = matmul(l, transpose(l));
  assert(relativeError(back.flat(), a.flat()) < 1e-14, "L L^T reproduces A in float64");
  for (let i = 0; i < 64; i++) for (let j = i + 1; j < 64; j++) assert(l[i][j] === 0);
  const w = unflatten(invertLowerF64(l.flat(), 64), 64, 64);
  const id = matmul(w, l);
  for (let i = 0; i < 64; i++) {
    for (let j = 0; j < 64; j++) assertAlmostEquals(id[i][j], i === j ? 1 : 0, 1e-12);
  }
});

Deno.test("cholesky: float32 op matches the float64 reference, batched, L L^T = A", () => {
  const rng = new Rng(2);
  const mats = [spd(rng, 64), spd(rng, 64), spd(rng, 64)];
  const l = tf.tidy(() => cholesky(tf.tensor3d(mats)).arraySync());
  mats.forEach((a, b) => {
    const ref = cholesky64(a);
    assert(relativeError(l[b].flat(), ref.flat()) < 1e-6, `batch ${b} matches float64`);
    const back = matmul(l[b], transpose(l[b]));
    assert(relativeError(back.flat(), a.flat()) < 1e-6, `batch ${b}: L L^T = A`);
  });
});

Deno.test("cholesky: gradient matches central finite differences of the float64 reference", () => {
  const rng = new Rng(3);
  const n = 6;
  const a = spd(rng, n);
  const g = randn(rng, n, n); // loss = sum(G * chol(A))
  const f64 = (flat: Float64Array) => {
    const l = cholesky64(unflatten(flat, n, n));
    return l.reduce((s, r, i) => s + r.reduce((t, v, j) => t + v * g[i][j], 0), 0);
  };
  const before = tf.memory().numTensors;
  const grad = tf.tidy(() => {
    const gt = tf.tensor2d(g);
    return tf.grad((x: tf.Tensor) => tf.sum(tf.mul(cholesky(x as tf.Tensor2D), gt)))(
      tf.tensor2d(a),
    ).arraySync() as number[][];
  });
  assert(tf.memory().numTensors === before, "no tensors leak");
  // The gradient is symmetric; along the symmetric direction E_ij + E_ji the directional
  // derivative is 2 grad_ij (i != j), along E_ii it is grad_ii.
  const directional = (i: number, j: number) =>
    finiteDifference((x) => {
      const m = Float64Array.from(a.flat());
      m[i * n + j] += x[0];
      if (i !== j) m[j * n + i] += x[0];
      return f64(m);
    }, [0])[0];
  const fd: number[] = [];
  const ours: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      assertAlmostEquals(grad[i][j], grad[j][i], 1e-6, "symmetric gradient");
      fd.push(directional(i, j));
      ours.push(i === j ? grad[i][i] : 2 * grad[i][j]);
    }
  }
  const err = relativeError(ours, fd);
  assert(err < 1e-4, `relative error ${err}`);
});

Deno.test("solveLowerTriangular: values and gradients (L and B) against float64", () => {
  const rng = new Rng(4);
  const n = 5;
  const m = 3;
  const l = cholesky64(spd(rng, n));
  const b = randn(rng, n, m);
  const g = randn(rng, n, m);
  const x = tf.tidy(() => solveLowerTriangular(tf.tensor2d(l), tf.tensor2d(b)).arraySync());
  assert(relativeError(x.flat(), solveLower64(l, b).flat()) < 1e-6, "X = L^-1 B");
  const [dl, db] = tf.tidy(() => {
    const gt = tf.tensor2d(g);
    const f = (lt: tf.Tensor, bt: tf.Tensor) =>
      tf.sum(tf.mul(solveLowerTriangular(lt as tf.Tensor2D, bt as tf.Tensor2D), gt));
    return tf.grads(f)([tf.tensor2d(l), tf.tensor2d(b)]).map((t) => t.arraySync() as number[][]);
  });
  const loss = (lf: number[][], bf: number[][]) =>
    solveLower64(lf, bf).reduce((s, r, i) => s + r.reduce((t, v, j) => t + v * g[i][j], 0), 0);
  const fdB = finiteDifference((flat) => loss(l, unflatten(flat, n, m)), b.flat());
  assert(relativeError(db.flat(), fdB) < 1e-4, "dB");
  const fdL = finiteDifference((flat) => loss(unflatten(flat, n, n), b), l.flat());
  const lowerMask = l.flat().map((_, k) => (Math.floor(k / n) >= k % n ? 1 : 0));
  assert(relativeError(dl.flat(), fdL.map((v, k) => v * lowerMask[k])) < 1e-4, "dL (lower)");
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) assert(dl[i][j] === 0, "dL upper 0");
});

Deno.test("whitening by cholesky + triangular solve gives identity covariance", () => {
  const rng = new Rng(5);
  const n = 8;
  const a = spd(rng, n);
  const w = tf.tidy(() => {
    const l = cholesky(tf.tensor2d(a));
    return solveLowerTriangular(l, tf.eye(n) as tf.Tensor2D).arraySync();
  });
  const white = matmul(matmul(w, a), transpose(w));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) assertAlmostEquals(white[i][j], i === j ? 1 : 0, 1e-5);
  }
});

Deno.test("cholesky: fails loudly on a non positive-definite or non-square input", () => {
  assertThrows(() => cholesky(tf.tensor2d([[1, 2], [2, 1]])), "not positive definite");
  const batch = tf.tensor3d([[[1, 0], [0, 1]], [[0, 0], [0, 0]]]);
  assertThrows(() => cholesky(batch), "matrix 1 of the batch of 2");
  assertThrows(() => cholesky(tf.tensor2d([[1, 2, 3], [4, 5, 6]])), "[n, n] or [batch, n, n]");
  assertThrows(() => cholesky(tf.tensor2d([[NaN, 0], [0, 1]])), "NaN");
  batch.dispose();
});

Deno.test("on-device cholesky and solve: match float64, gradients match finite differences", () => {
  const rng = new Rng(6);
  const n = 6;
  const mats = [spd(rng, n), spd(rng, n)];
  const b = [randn(rng, n, 2), randn(rng, n, 2)];
  const [l, x] = tf.tidy(() => {
    const lt = choleskyOnDevice(tf.tensor3d(mats));
    return [lt.arraySync(), solveLowerOnDevice(lt, tf.tensor3d(b)).arraySync()];
  });
  mats.forEach((a, k) => {
    const ref = cholesky64(a);
    assert(relativeError(l[k].flat(), ref.flat()) < 1e-5, `L ${k}`);
    assert(relativeError(x[k].flat(), solveLower64(ref, b[k]).flat()) < 1e-5, `X ${k}`);
  });
  // d/dA of sum(G * L^-1 B) along symmetric directions, against float64 finite differences
  const g = randn(rng, n, 2);
  const f64 = (flat: Float64Array) => {
    const lf = cholesky64(unflatten(flat, n, n));
    return solveLower64(lf, b[0]).reduce(
      (s, r, i) => s + r.reduce((t, v, j) => t + v * g[i][j], 0),
      0,
    );
  };
  const before = tf.memory().numTensors;
  const grad = tf.tidy(() => {
    const gt = tf.tensor3d([g]);
    const f = (a: tf.Tensor) =>
      tf.sum(
        tf.mul(solveLowerOnDevice(choleskyOnDevice(a as tf.Tensor3D), tf.tensor3d([b[0]])), gt),
      );
    return (tf.grad(f)(tf.tensor3d([mats[0]])).arraySync() as number[][][])[0];
  });
  assert(tf.memory().numTensors === before, "no tensors leak");
  const fd: number[] = [];
  const ours: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      fd.push(
        finiteDifference((t) => {
          const m = Float64Array.from(mats[0].flat());
          m[i * n + j] += t[0];
          if (i !== j) m[j * n + i] += t[0];
          return f64(m);
        }, [0])[0],
      );
      ours.push(i === j ? grad[i][i] : grad[i][j] + grad[j][i]);
    }
  }
  const err = relativeError(ours, fd);
  assert(err < 1e-4, `relative error ${err}`);
});

Deno.test("on-device cholesky gives NaN, not an error, for a matrix that is not positive definite", () => {
  const l = tf.tidy(() => choleskyOnDevice(tf.tensor3d([[[1, 2], [2, 1]]])).arraySync());
  assert(Number.isNaN(l[0][1][1]), "NaN pivot");
});
