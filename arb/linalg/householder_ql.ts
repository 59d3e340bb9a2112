/**
 * Symmetric eigendecomposition by Householder tridiagonalisation followed by the implicit QL
 * algorithm with Wilkinson-type shifts, in float64 on the host: the classic EISPACK `tred2` +
 * `tql2` pair (Bowdler, Martin, Reinsch & Wilkinson, Handbook for Automatic Computation II,
 * 1971; as laid out in the public-domain JAMA library).
 *
 * Roughly 9 n^3 flops in total against about 6 n^3 per sweep (8 to 11 sweeps) for cyclic
 * Jacobi, so it is the default solver for the ARB base; `jacobi.ts` is kept as an independent
 * cross-check and for its high relative accuracy on tiny eigenvalues.
 */
import type { SymmetricEigen } from "./eigen_types.ts";
import { sortEigen } from "./eigen_types.ts";

/**
 * Eigenvalues (ascending) and eigenvectors (columns) of a symmetric row-major n x n matrix.
 * Only the symmetric part is used; the input is not modified. Throws on a non-finite input.
 *
 * @example
 * const { values } = householderQlEigen(new Float64Array([2, 1, 1, 2]), 2); // [1, 3]
 */
export function householderQlEigen(input: ArrayLike<number>, n: number): SymmetricEigen {
  if (!Number.isInteger(n) || n < 1) throw new Error(`householderQlEigen: bad order n=${n}`);
  if (input.length !== n * n) {
    throw new Error(
      `householderQlEigen: expected ${n * n} entries for n=${n}, got ${input.length}`,
    );
  }
  const vt = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const x = 0.5 * (input[i * n + j] + input[j * n + i]);
      if (!Number.isFinite(x)) {
        throw new Error(
          `householderQlEigen: non-finite entry at (${i}, ${j}): ${input[i * n + j]}`,
        );
      }
      vt[i * n + j] = x;
    }
  }
  const d = new Float64Array(n), e = new Float64Array(n);
  tridiagonalize(vt, d, e, n);
  const iterations = tridiagonalQl(vt, d, e, n);
  return sortEigen(d, vt, n, iterations);
}

/**
 * tred2: reduces A to tridiagonal form (diagonal d, sub-diagonal e) and leaves the orthogonal
 * transform V in `w` transposed (w = V^T, which is the row layout `tridiagonalQl` wants).
 * Working on V^T makes every inner loop of the original column-oriented algorithm contiguous.
 */
function tridiagonalize(w: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) d[j] = w[j * n + (n - 1)];
  for (let i = n - 1; i > 0; i--) {
    let scale = 0, h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1];
      for (let j = 0; j < i; j++) {
        d[j] = w[j * n + (i - 1)];
        w[j * n + i] = 0;
        w[i * n + j] = 0;
      }
    } else {
      // Householder vector, scaled against under- and overflow.
      for (let k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      let f = d[i - 1];
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      // Similarity transformation of the remaining columns.
      for (let j = 0; j < i; j++) {
        f = d[j];
        w[i * n + j] = f;
        g = e[j] + w[j * n + j] * f;
        for (let k = j + 1; k <= i - 1; k++) {
          g += w[j * n + k] * d[k];
          e[k] += w[j * n + k] * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * d[j];
      for (let j = 0; j < i; j++) {
        f = d[j];
        g = e[j];
        for (let k = j; k <= i - 1; k++) w[j * n + k] -= f * e[k] + g * d[k];
        d[j] = w[j * n + (i - 1)];
        w[j * n + i] = 0;
      }
    }
    d[i] = h;
  }
  // Accumulate the transformations.
  for (let i = 0; i < n - 1; i++) {
    w[i * n + (n - 1)] = w[i * n + i];
    w[i * n + i] = 1;
    const h = d[i + 1];
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = w[(i + 1) * n + k] / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += w[(i + 1) * n + k] * w[j * n + k];
        for (let k = 0; k <= i; k++) w[j * n + k] -= g * d[k];
      }
    }
    for (let k = 0; k <= i; k++) w[(i + 1) * n + k] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = w[j * n + (n - 1)];
    w[j * n + (n - 1)] = 0;
  }
  w[(n - 1) * n + (n - 1)] = 1;
  e[0] = 0;
}

/**
 * tql2: diagonalises the symmetric tridiagonal (d, e) by implicit QL, accumulating the
 * rotations into the rows of vt (the transposed eigenvector matrix). Returns the iteration count.
 */
function tridiagonalQl(vt: Float64Array, d: Float64Array, e: Float64Array, n: number): number {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  let f = 0, tst1 = 0, total = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n - 1 && Math.abs(e[m]) > eps * tst1) m++;
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 60) {
          throw new Error(`householderQlEigen: QL iteration did not converge for eigenvalue ${l}`);
        }
        total++;
        // Implicit shift from the leading 2x2 block.
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.sqrt(p * p + 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        // Implicit QL sweep from m up to l.
        p = d[m];
        let c = 1, c2 = 1, c3 = 1, s = 0, s2 = 0;
        const el1 = e[l + 1];
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.sqrt(p * p + e[i] * e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          const rowI = i * n, rowJ = (i + 1) * n;
          for (let k = 0; k < n; k++) {
            const x = vt[rowJ + k];
            vt[rowJ + k] = s * vt[rowI + k] + c * x;
            vt[rowI + k] = c * vt[rowI + k] - s * x;
          }
        }
        p = -s * s2 * c3 * el1 * e[l] / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > eps * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
  return total;
}
