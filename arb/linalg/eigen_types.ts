/** Shared result type of the host symmetric eigensolvers. */

/** Result of a symmetric eigendecomposition: A = V diag(values) V^T. */
export interface SymmetricEigen {
  /** Matrix order. */
  n: number;
  /** Eigenvalues, ascending. */
  values: Float64Array;
  /** Eigenvectors as the columns of an n x n row-major matrix (column j pairs with values[j]). */
  vectors: Float64Array;
  /** Work done: Jacobi sweeps, or QL iterations. */
  iterations: number;
}

/**
 * Sorts eigenpairs ascending. `vt` holds the eigenvectors as rows (row k pairs with d[k]);
 * the result holds them as columns.
 */
export function sortEigen(
  d: Float64Array,
  vt: Float64Array,
  n: number,
  iterations: number,
): SymmetricEigen {
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => d[i] - d[j]);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    values[dst] = d[src];
    for (let k = 0; k < n; k++) vectors[k * n + dst] = vt[src * n + k];
  });
  return { n, values, vectors, iterations };
}
