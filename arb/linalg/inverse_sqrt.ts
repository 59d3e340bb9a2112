/**
 * Inverse square roots of symmetric positive semi-definite matrices, (C + eps I)^(-1/2):
 * - "eigh": eigendecomposition on the host in float64 (`eigen.ts`); eigenvalues s enter as
 *   1 / sqrt(s + eps). The data is pulled off the backend with `dataSync`, so this path needs a
 *   backend with synchronous reads (cpu, wasm, tensorflow).
 * - "newton_schulz": the coupled Newton-Schulz iteration on the active backend, matmuls only
 *   (Higham, Functions of Matrices, 2008, eq. 6.35; the form used by Decorrelated Batch Norm
 *   and IterNorm). It needs one scalar read per call to size the iteration (see
 *   {@link newtonSchulzIterations}) and one for the convergence check.
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

/** Result of {@link newtonSchulzInverseSqrt}. */
export interface NewtonSchulzResult<T extends tf.Tensor> {
  /** (C + eps I)^(-1/2), same shape as C. */
  value: T;
  /** Steps taken. */
  iterations: number;
  /** max over the batch of ||I - Z Y||_F / sqrt(n) after the last step. */
  residual: number;
}

/** Largest residual ||I - Z Y||_F / sqrt(n) accepted before Newton-Schulz is declared failed. */
export const NEWTON_SCHULZ_MAX_RESIDUAL = 1e-3;

/**
 * (C + eps I)^(-1/2) for a symmetric PSD C (n x n, or a batch g x n x n) by the coupled
 * Newton-Schulz iteration on the active backend:
 * A = (C + eps I) / ||C + eps I||_F, Y0 = A, Z0 = I, T = (3 I - Z Y) / 2, Y <- Y T, Z <- T Z;
 * Z -> A^(-1/2). Frobenius normalisation puts every eigenvalue in (0, 1], where the iteration
 * converges; the step count comes from {@link newtonSchulzIterations} with the ratio
 * (lowerBound + eps) / ||C + eps I||_F. Throws when the final residual exceeds
 * {@link NEWTON_SCHULZ_MAX_RESIDUAL} or is not finite (C not PSD, or float32 breakdown).
 */
export function newtonSchulzInverseSqrt<T extends tf.Tensor2D | tf.Tensor3D>(
  c: T,
  { eps = 1e-5, lowerBound = 0 }: { eps?: number; lowerBound?: number } = {},
): NewtonSchulzResult<T> {
  const n = c.shape[c.rank - 1];
  if (c.shape[c.rank - 2] !== n) throw new Error(`newtonSchulz: matrix is not square: ${c.shape}`);
  const g = c.rank === 3 ? c.shape[0] : 1;
  return tf.tidy(() => {
    const eye = tf.eye(n).expandDims(0).tile([g, 1, 1]) as tf.Tensor3D;
    const a = (c.reshape([g, n, n]) as tf.Tensor3D).add(eye.mul(eps)) as tf.Tensor3D;
    const norm = a.square().sum([1, 2], true).sqrt() as tf.Tensor3D;
    const norms = norm.dataSync();
    let maxNorm = 0;
    for (const x of norms) maxNorm = Math.max(maxNorm, x);
    if (!Number.isFinite(maxNorm)) {
      throw new Error(`newtonSchulz: the matrix holds non-finite values (norm ${maxNorm})`);
    }
    const iterations = newtonSchulzIterations(Math.min(1, (lowerBound + eps) / maxNorm));
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
    const res = eye.sub(tf.matMul(z, y)).square().sum([1, 2]).max().sqrt().div(Math.sqrt(n));
    const residual = res.dataSync()[0];
    if (!(residual <= NEWTON_SCHULZ_MAX_RESIDUAL)) {
      throw new Error(
        `newtonSchulz: no convergence after ${iterations} steps (residual ${residual}); ` +
          `the matrix is not positive semi-definite or too ill-conditioned for float32: ` +
          `use method "eigh"`,
      );
    }
    const value = z.div(norm.sqrt()).reshape(c.shape) as T;
    return { value, iterations, residual };
  });
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
