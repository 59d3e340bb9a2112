/**
 * Small dense float64 kernels on the host (row-major), used by the whitening code where the
 * work is done in float64 off the tfjs backend. Loops are ordered for contiguous inner access.
 */

/**
 * Gram matrix of `rows` consecutive rows of a row-major matrix with `cols` columns, starting
 * at row `start`, divided by `divisor`: G[i][j] = <x_{start+i}, x_{start+j}> / divisor.
 */
export function gramRows(
  x: ArrayLike<number>,
  cols: number,
  start: number,
  rows: number,
  divisor: number,
): Float64Array {
  const g = new Float64Array(rows * rows);
  for (let i = 0; i < rows; i++) {
    const xi = (start + i) * cols;
    for (let j = 0; j <= i; j++) {
      const xj = (start + j) * cols;
      let s = 0;
      for (let k = 0; k < cols; k++) s += x[xi + k] * x[xj + k];
      g[i * rows + j] = s / divisor;
      g[j * rows + i] = s / divisor;
    }
  }
  return g;
}

/**
 * V diag(f) V^T for an n x n row-major V (columns are eigenvectors) and diagonal f: the
 * matrix function of a symmetric matrix from its eigendecomposition.
 */
export function spectralProduct(v: Float64Array, f: Float64Array, n: number): Float64Array {
  const vf = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) vf[i * n + k] = v[i * n + k] * f[k];
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += vf[i * n + k] * v[j * n + k];
      out[i * n + j] = s;
      out[j * n + i] = s;
    }
  }
  return out;
}
