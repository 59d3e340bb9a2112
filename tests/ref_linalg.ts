/**
 * Independent float64 reference linear algebra for the numerical tests, written plainly
 * (arrays of rows) and sharing no code with `arb/linalg/`: products, Gauss-Jordan inverse,
 * Denman-Beavers matrix square root, random orthogonal matrices.
 */
import { Rng } from "../arb/rng.ts";

/** A dense matrix as an array of rows. */
export type Mat = number[][];

/** m x n matrix filled by f(i, j). */
export function mat(m: number, n: number, f: (i: number, j: number) => number): Mat {
  return Array.from({ length: m }, (_, i) => Array.from({ length: n }, (_, j) => f(i, j)));
}

/** Identity of order n. */
export function eye(n: number): Mat {
  return mat(n, n, (i, j) => (i === j ? 1 : 0));
}

/** A B. */
export function mul(a: Mat, b: Mat): Mat {
  return mat(a.length, b[0].length, (i, j) => {
    let s = 0;
    for (let k = 0; k < b.length; k++) s += a[i][k] * b[k][j];
    return s;
  });
}

/** A^T. */
export function transpose(a: Mat): Mat {
  return mat(a[0].length, a.length, (i, j) => a[j][i]);
}

/** a A + b B. */
export function lincomb(a: number, x: Mat, b: number, y: Mat): Mat {
  return mat(x.length, x[0].length, (i, j) => a * x[i][j] + b * y[i][j]);
}

/** Largest absolute entry of A - B. */
export function maxAbsDiff(a: Mat, b: Mat): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    for (let j = 0; j < a[0].length; j++) m = Math.max(m, Math.abs(a[i][j] - b[i][j]));
  }
  return m;
}

/** Largest absolute entry of A. */
export function maxAbs(a: Mat): number {
  return Math.max(...a.map((r) => Math.max(...r.map(Math.abs))));
}

/** Inverse by Gauss-Jordan elimination with partial pivoting. */
export function inverse(a: Mat): Mat {
  const n = a.length;
  const m = a.map((r, i) => [...r, ...eye(n)[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r][c]) > Math.abs(m[p][c])) p = r;
    [m[c], m[p]] = [m[p], m[c]];
    const piv = m[c][c];
    if (piv === 0) throw new Error("reference inverse: singular matrix");
    for (let j = 0; j < 2 * n; j++) m[c][j] /= piv;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r][c];
      if (f !== 0) { for (let j = 0; j < 2 * n; j++) m[r][j] -= f * m[c][j]; }
    }
  }
  return m.map((r) => r.slice(n));
}

/**
 * A^(-1/2) of a symmetric positive definite A by the Denman-Beavers iteration
 * (Y -> A^(1/2), Z -> A^(-1/2)), iterated to float64 convergence.
 */
export function inverseSqrtDB(a: Mat): Mat {
  let y = a, z = eye(a.length), last = Infinity;
  for (let k = 0; k < 100; k++) {
    const y2 = lincomb(0.5, y, 0.5, inverse(z));
    const z2 = lincomb(0.5, z, 0.5, inverse(y));
    const change = maxAbsDiff(z2, z) / maxAbs(z2);
    y = y2;
    z = z2;
    // converged, or stalled at the rounding floor (quadratic convergence has ended)
    if (change < 1e-14 || (change < 1e-9 && change >= last)) return z;
    last = change;
  }
  throw new Error("reference Denman-Beavers did not converge");
}

/** A random n x n orthogonal matrix (Gram-Schmidt, twice, of a Gaussian matrix). */
export function randomOrthogonal(n: number, rng: Rng): Mat {
  const q: number[][] = [];
  for (let i = 0; i < n; i++) {
    let v = Array.from({ length: n }, () => rng.normal());
    for (let pass = 0; pass < 2; pass++) {
      for (const u of q) {
        const d = u.reduce((s, x, k) => s + x * v[k], 0);
        v = v.map((x, k) => x - d * u[k]);
      }
    }
    const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    q.push(v.map((x) => x / norm));
  }
  return q; // rows orthonormal, so Q is orthogonal
}

/** Q diag(values) Q^T. */
export function fromSpectrum(q: Mat, values: number[]): Mat {
  return mul(mat(q.length, q.length, (i, j) => q[i][j] * values[j]), transpose(q));
}

/** Row-major flat copy of A. */
export function flat(a: Mat): number[] {
  return a.flat();
}

/** A from a row-major flat array with n columns. */
export function unflat(a: ArrayLike<number>, n: number): Mat {
  return mat(a.length / n, n, (i, j) => a[i * n + j]);
}
