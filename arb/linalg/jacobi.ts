/**
 * Symmetric eigendecomposition by the cyclic Jacobi method, in float64 on the host.
 *
 * Why on the host: tfjs has no eigensolver, the matrices ARB needs are small (at most
 * 256 x 256 per group), and the whitening base is a constant with no gradient, so pulling the
 * data off the backend and solving in float64 is both the most exact and simple option.
 * Cost: one sweep is n(n-1)/2 rotations of O(n) work each (about 6n^3 flops); a random
 * 256 x 256 covariance converges in 8 to 10 sweeps (see `bench/linalg.ts` for timings).
 *
 * Reference: Golub & Van Loan, Matrix Computations (4th ed.), section 8.5.2 (cyclic Jacobi),
 * with the rotation formulas of Rutishauser (Numerical Recipes 3rd ed., section 11.1).
 */
import type { SymmetricEigen } from "./eigen_types.ts";
import { sortEigen } from "./eigen_types.ts";

/** Options for {@link symmetricEigen}. */
export interface JacobiOptions {
  /** Stop when the off-diagonal Frobenius norm is below `tol` times the matrix Frobenius norm. */
  tol?: number;
  /** Give up (with an error) after this many sweeps. */
  maxSweeps?: number;
}

/**
 * Eigenvalues and eigenvectors of a symmetric matrix (row-major, n x n) by cyclic Jacobi.
 * Only the symmetric part is used (the input is symmetrised first); the input is not modified.
 * Throws when the input holds a non-finite value or when it does not converge.
 *
 * @example
 * const { values, vectors } = jacobiEigen(new Float64Array([2, 1, 1, 2]), 2);
 * // values = [1, 3]; vectors columns are (1,-1)/sqrt(2) and (1,1)/sqrt(2) up to sign
 */
export function jacobiEigen(
  input: ArrayLike<number>,
  n: number,
  { tol = 1e-13, maxSweeps = 60 }: JacobiOptions = {},
): SymmetricEigen {
  if (!Number.isInteger(n) || n < 1) throw new Error(`jacobiEigen: bad order n=${n}`);
  if (input.length !== n * n) {
    throw new Error(`jacobiEigen: expected ${n * n} entries for n=${n}, got ${input.length}`);
  }
  const a = new Float64Array(n * n);
  let norm2 = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const x = 0.5 * (input[i * n + j] + input[j * n + i]);
      if (!Number.isFinite(x)) {
        throw new Error(`jacobiEigen: non-finite entry at (${i}, ${j}): ${input[i * n + j]}`);
      }
      a[i * n + j] = x;
      norm2 += x * x;
    }
  }
  // vt holds V^T: row k is eigenvector k, so rotations touch two contiguous rows.
  const vt = new Float64Array(n * n);
  for (let i = 0; i < n; i++) vt[i * n + i] = 1;

  const target = tol * tol * norm2;
  let sweeps = 0;
  for (;;) {
    let off = 0;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) off += a[p * n + q] * a[p * n + q];
    }
    if (2 * off <= target || norm2 === 0) break;
    if (sweeps === maxSweeps) {
      throw new Error(
        `jacobiEigen: no convergence after ${maxSweeps} sweeps (off-diagonal norm ${
          Math.sqrt(2 * off)
        }, matrix norm ${Math.sqrt(norm2)}); the input may be badly scaled`,
      );
    }
    sweeps++;
    // Threshold strategy: skip rotations whose element is already negligible.
    const skip = Math.sqrt(target) / n;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        if (Math.abs(a[p * n + q]) > skip) rotate(a, vt, n, p, q);
      }
    }
  }

  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) d[i] = a[i * n + i];
  return sortEigen(d, vt, n, sweeps);
}

/** Annihilates a[p][q] with one plane rotation, updating A in place and accumulating V^T. */
function rotate(a: Float64Array, vt: Float64Array, n: number, p: number, q: number): void {
  const apq = a[p * n + q];
  const app = a[p * n + p], aqq = a[q * n + q];
  const theta = (aqq - app) / (2 * apq);
  // t = tan(phi), the smaller root of t^2 + 2 t theta - 1 = 0 (rotation angle <= pi/4).
  const t = Number.isFinite(theta * theta)
    ? Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1))
    : 0.5 / theta;
  const c = 1 / Math.sqrt(t * t + 1), s = t * c;
  const pn = p * n, qn = q * n;
  for (let k = 0; k < n; k++) {
    const akp = a[pn + k], akq = a[qn + k];
    const np = c * akp - s * akq, nq = s * akp + c * akq;
    a[pn + k] = np;
    a[qn + k] = nq;
    a[k * n + p] = np;
    a[k * n + q] = nq;
  }
  a[pn + p] = app - t * apq;
  a[qn + q] = aqq + t * apq;
  a[pn + q] = 0;
  a[qn + p] = 0;
  for (let k = 0; k < n; k++) {
    const vp = vt[pn + k], vq = vt[qn + k];
    vt[pn + k] = c * vp - s * vq;
    vt[qn + k] = s * vp + c * vq;
  }
}
