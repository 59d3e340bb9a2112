/**
 * Inverse square roots of symmetric positive semi-definite matrices, (C + eps I)^(-1/2):
 * - "eigh": eigendecomposition on the host in float64 (`eigen.ts`); eigenvalues s enter as
 *   1 / sqrt(s + eps). The data is pulled off the backend with `dataSync`, so this path needs a
 *   backend with synchronous reads (cpu, wasm, tensorflow).
 * - "newton_schulz": the coupled Newton-Schulz iteration on the active backend, matmuls only
 *   (Higham, Functions of Matrices, 2008, eq. 6.35; the form used by Decorrelated Batch Norm
 *   and IterNorm). {@link newtonSchulzInverseSqrtDevice} never reads back: its step count is
 *   given and failure shows as NaN; {@link newtonSchulzInverseSqrt} reads the norms to size the
 *   iteration and the residuals to throw on failure (backends with synchronous reads).
 */
import { tf } from "../tf.ts";
import { type EigenAlgorithm, symmetricEigen } from "./eigen.ts";
import { spectralProduct } from "./dense.ts";

/** How to compute an inverse square root. */
export type InverseSqrtMethod = "eigh" | "newton_schulz";

/** Options for {@link inverseSqrtSymmetric}. */
export interface InverseSqrtOptions {
  /** "eigh" (host float64, default) or "newton_schulz" (device matmuls). */
  method?: InverseSqrtMethod;
  /** Added to every eigenvalue before the inverse square root (default 1e-5). */
  eps?: number;
  /** Host eigensolver for "eigh" (default "ql"). */
  algorithm?: EigenAlgorithm;
  /**
   * A known lower bound on the eigenvalues of C (default 0, true of any PSD matrix); a larger
   * one lets Newton-Schulz stop earlier. ARB's shrinkage guarantees its shrinkage weight.
   */
  lowerBound?: number;
}

/**
 * (C + eps I)^(-1/2) of a symmetric row-major n x n matrix, in float64 on the host.
 * Throws when an eigenvalue s has s + eps <= 0 (C not positive semi-definite).
 *
 * @example
 * inverseSqrtHost([4, 0, 0, 9], 2, { eps: 0 }); // [0.5, 0, 0, 1/3]
 */
export function inverseSqrtHost(
  c: ArrayLike<number>,
  n: number,
  { eps = 1e-5, algorithm = "ql" }: { eps?: number; algorithm?: EigenAlgorithm } = {},
): Float64Array {
  const { values, vectors } = symmetricEigen(c, n, algorithm);
  const f = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const s = values[i] + eps;
    if (!(s > 0)) {
      throw new Error(
        `inverseSqrt: eigenvalue ${values[i]} + eps ${eps} is not positive; the matrix is not ` +
          `positive semi-definite (or eps is too small for its rounding errors)`,
      );
    }
    f[i] = 1 / Math.sqrt(s);
  }
  return spectralProduct(vectors, f, n);
}

/**
 * Number of coupled Newton-Schulz steps after which every eigenvalue of a matrix normalised to
 * eigenvalues in [minRatio, 1] has converged: |1 - y z| <= tol, i.e. a relative error of about
 * tol / 2 in the inverse square root (in exact arithmetic). Per eigenvalue the iteration maps
 * e = y z to e (3 - e)^2 / 4, which is increasing on [0, 1], so the smallest eigenvalue is the
 * slowest; it gains a factor 9/4 per step until close to 1, then converges quadratically.
 */
export function newtonSchulzIterations(minRatio: number, tol = 1e-7): number {
  if (!(minRatio > 0 && minRatio <= 1)) {
    throw new Error(`newtonSchulzIterations: minRatio must be in (0, 1], got ${minRatio}`);
  }
  let e = minRatio, k = 0;
  while (1 - e > tol) {
    e = e * (3 - e) * (3 - e) / 4;
    k++;
  }
  return k;
}

/** Largest residual ||I - Z Y||_F / sqrt(n) accepted before Newton-Schulz is declared failed. */
export const NEWTON_SCHULZ_MAX_RESIDUAL = 1e-3;

/** Result of {@link newtonSchulzInverseSqrtDevice}: tensors the caller disposes. */
export interface NewtonSchulzDeviceResult<T extends tf.Tensor> {
  /**
   * (C + eps I)^(-1/2), same shape as C; every entry of a matrix whose iteration failed (residual
   * above {@link NEWTON_SCHULZ_MAX_RESIDUAL}, or non-finite input) is NaN.
   */
  value: T;
  /** Per matrix of the batch, ||I - Z Y||_F / sqrt(n) after the last step (shape [g]). */
  residual: tf.Tensor1D;
  /** Steps taken. */
  iterations: number;
}

/**
 * (C + eps I)^(-1/2) for a symmetric PSD C (n x n, or a batch g x n x n) by the coupled
 * Newton-Schulz iteration, entirely on the active backend (no read back to the host, so it runs
 * where synchronous reads are impossible, such as WebGPU under Deno):
 * A = (C + eps I) / ||C + eps I||_F, Y0 = A, Z0 = I, T = (3 I - Z Y) / 2, Y <- Y T, Z <- T Z;
 * Z -> A^(-1/2). Frobenius normalisation puts every eigenvalue in (0, 1], where the iteration
 * converges. The step count is fixed by the caller (see {@link newtonSchulzIterations}); a
 * matrix that did not converge within it, is not PSD or holds non-finite values comes back as
 * NaN (so whatever is computed from it is NaN too: the failure cannot pass silently).
 */
export function newtonSchulzInverseSqrtDevice<T extends tf.Tensor2D | tf.Tensor3D>(
  c: T,
  { eps = 1e-5, iterations }: { eps?: number; iterations: number },
): NewtonSchulzDeviceResult<T> {
  const n = c.shape[c.rank - 1];
  if (c.shape[c.rank - 2] !== n) throw new Error(`newtonSchulz: matrix is not square: ${c.shape}`);
  if (!Number.isInteger(iterations) || iterations < 0) {
    throw new Error(`newtonSchulz: iterations must be a non-negative integer, got ${iterations}`);
  }
  const g = c.rank === 3 ? c.shape[0] : 1;
  const [value, residual] = tf.tidy(() => {
    const eye = tf.eye(n).expandDims(0).tile([g, 1, 1]) as tf.Tensor3D;
    const a = (c.reshape([g, n, n]) as tf.Tensor3D).add(eye.mul(eps)) as tf.Tensor3D;
    const norm = a.square().sum([1, 2], true).sqrt() as tf.Tensor3D;
    const threeEye = eye.mul(3);
    let y = a.div(norm) as tf.Tensor3D;
    let z = eye;
    for (let k = 0; k < iterations; k++) {
      const [y2, z2] = tf.tidy(() => {
        const t = threeEye.sub(tf.matMul(z, y)).mul(0.5) as tf.Tensor3D;
        return [tf.matMul(y, t), tf.matMul(t, z)];
      });
      y = y2;
      z = z2;
    }
    const res = eye.sub(tf.matMul(z, y)).square().sum([1, 2]).sqrt().div(Math.sqrt(n));
    // NaN where the residual is too large or NaN (a comparison with NaN is false).
    const mark = tf.where(
      res.lessEqual(NEWTON_SCHULZ_MAX_RESIDUAL),
      tf.onesLike(res),
      tf.fill(res.shape, NaN),
    );
    const out = z.div(norm.sqrt()).mul(mark.reshape([g, 1, 1])).reshape(c.shape) as T;
    return [out, res as tf.Tensor1D] as const;
  });
  return { value, residual, iterations };
}

/** Result of {@link newtonSchulzInverseSqrt}. */
export interface NewtonSchulzResult<T extends tf.Tensor> {
  /** (C + eps I)^(-1/2), same shape as C. */
  value: T;
  /** Steps taken. */
  iterations: number;
  /** max over the batch of ||I - Z Y||_F / sqrt(n) after the last step. */
  residual: number;
}

/**
 * {@link newtonSchulzInverseSqrtDevice} with its step count sized from the data and its
 * result checked, for backends that read synchronously (cpu, wasm, tensorflow): one read of
 * the norms sizes the iteration by {@link newtonSchulzIterations} with the ratio
 * (lowerBound + eps) / ||C + eps I||_F, one read of the residuals checks it. Throws when the
 * final residual exceeds {@link NEWTON_SCHULZ_MAX_RESIDUAL} or is not finite (C not PSD, or
 * float32 breakdown). Where reads must stay asynchronous (WebGPU under Deno), call the device
 * function with a step count from a known bound instead (as `zcaBase` does).
 */
export function newtonSchulzInverseSqrt<T extends tf.Tensor2D | tf.Tensor3D>(
  c: T,
  { eps = 1e-5, lowerBound = 0 }: { eps?: number; lowerBound?: number } = {},
): NewtonSchulzResult<T> {
  const n = c.shape[c.rank - 1];
  if (c.shape[c.rank - 2] !== n) throw new Error(`newtonSchulz: matrix is not square: ${c.shape}`);
  const norms = tf.tidy(() => {
    const g = c.rank === 3 ? c.shape[0] : 1;
    const a = (c.reshape([g, n, n]) as tf.Tensor3D).add(tf.eye(n).mul(eps));
    return a.square().sum([1, 2]).sqrt();
  });
  const maxNorm = (norms.dataSync() as Float32Array).reduce((m, x) => Math.max(m, x), 0);
  norms.dispose();
  if (!Number.isFinite(maxNorm)) {
    throw new Error(`newtonSchulz: the matrix holds non-finite values (norm ${maxNorm})`);
  }
  const iterations = newtonSchulzIterations(Math.min(1, (lowerBound + eps) / maxNorm));
  const r = newtonSchulzInverseSqrtDevice(c, { eps, iterations });
  const residual = (r.residual.dataSync() as Float32Array).reduce((m, x) => Math.max(m, x), 0); // NaN propagates
  r.residual.dispose();
  if (!(residual <= NEWTON_SCHULZ_MAX_RESIDUAL)) {
    r.value.dispose();
    throw new Error(
      `newtonSchulz: no convergence after ${iterations} steps (residual ${residual}); ` +
        `the matrix is not positive semi-definite or too ill-conditioned for float32: ` +
        `use method "eigh"`,
    );
  }
  return { value: r.value, iterations, residual };
}

/**
 * (C + eps I)^(-1/2) of a symmetric PSD matrix or batch of matrices (n x n or g x n x n),
 * returned as a new float32 tensor of the same shape. Not differentiable (a constant).
 *
 * @example
 * const w = inverseSqrtSymmetric(tf.tensor2d([[4, 0], [0, 9]]), { eps: 0 }); // [[0.5, 0], [0, 1/3]]
 */
export function inverseSqrtSymmetric<T extends tf.Tensor2D | tf.Tensor3D>(
  c: T,
  { method = "eigh", eps = 1e-5, algorithm = "ql", lowerBound = 0 }: InverseSqrtOptions = {},
): T {
  if (c.rank !== 2 && c.rank !== 3) {
    throw new Error(
      `inverseSqrtSymmetric: expected a matrix or a batch of matrices, got ${c.shape}`,
    );
  }
  const n = c.shape[c.rank - 1];
  if (c.shape[c.rank - 2] !== n) {
    throw new Error(`inverseSqrtSymmetric: matrix is not square: ${c.shape}`);
  }
  if (method === "newton_schulz") return newtonSchulzInverseSqrt(c, { eps, lowerBound }).value;
  if (method !== "eigh") {
    throw new Error(
      `inverseSqrtSymmetric: unknown method "${method}" (use "eigh" or "newton_schulz")`,
    );
  }
  const data = c.dataSync();
  const out = new Float32Array(data.length);
  for (let b = 0; b < data.length / (n * n); b++) {
    out.set(
      inverseSqrtHost(data.subarray(b * n * n, (b + 1) * n * n), n, { eps, algorithm }),
      b * n * n,
    );
  }
  return tf.tensor(out, c.shape, "float32") as T;
}
