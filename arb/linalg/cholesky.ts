/**
 * Cholesky factorisation and lower-triangular solves for tfjs (which has neither), both
 * differentiable, for the small symmetric positive-definite matrices of W-MSE whitening
 * (64 x 64 to 256 x 256, batched).
 *
 * Forward passes run on the host in float64 (one `dataSync` per call, O(n^3 / 3) flops per
 * matrix, well under a millisecond at n = 64) and return float32 tensors; backward passes are
 * tfjs matmuls, so gradients stay on the device. The backward formulas are the standard ones
 * (Murray 2016, "Differentiation of the Cholesky decomposition", eq. 10; the same as PyTorch's
 * `cholesky_backward` and `triangular_solve_backward`), written with W = L^-1 computed in the
 * forward pass:
 *
 *   L = chol(A):      dA = sym(W^T Phi(L^T dL) W),  Phi = lower triangle with halved diagonal,
 *                     sym(X) = (X + X^T) / 2
 *   X = L^-1 B:       dB = W^T dX,  dL = -tril(dB X^T)
 *
 * Like `torch.cholesky`, `cholesky` reads only the lower triangle of A and fails loudly (it
 * never returns NaNs) when A is not positive definite.
 */
import { tf } from "../tf.ts";

/**
 * Lower Cholesky factor of the n x n matrix stored row-major in `a` at `offset`, in float64.
 * Reads only the lower triangle. Throws when a pivot is not positive (matrix not positive definite).
 *
 * @example
 * choleskyF64([4, 2, 2, 5], 2); // Float64Array [2, 0, 1, 2]
 */
export function choleskyF64(a: ArrayLike<number>, n: number, offset = 0): Float64Array {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = a[offset + j * n + j];
    for (let k = 0; k < j; k++) d -= l[j * n + k] * l[j * n + k];
    if (!(d > 0)) {
      throw new Error(
        `cholesky: matrix is not positive definite (pivot ${j} of ${n} is ${d}); ` +
          `it is singular, indefinite or contains NaN. For a covariance, add shrinkage ` +
          `(W-MSE option w_eps > 0) or use more samples than features.`,
      );
    }
    const ljj = Math.sqrt(d);
    l[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a[offset + i * n + j];
      for (let k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
      l[i * n + j] = s / ljj;
    }
  }
  return l;
}

/**
 * Solves L X = B in float64 by forward substitution: L is n x n lower triangular (only its
 * lower triangle is read), B is n x m, both row-major. Returns X (n x m).
 */
export function solveLowerF64(
  l: ArrayLike<number>,
  b: ArrayLike<number>,
  n: number,
  m: number,
  lOffset = 0,
  bOffset = 0,
): Float64Array {
  const x = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    const lii = l[lOffset + i * n + i];
    if (lii === 0 || !Number.isFinite(lii)) {
      throw new Error(
        `solveLowerTriangular: diagonal entry ${i} of L is ${lii}; L must be non-singular`,
      );
    }
    for (let c = 0; c < m; c++) {
      let s = b[bOffset + i * m + c];
      for (let k = 0; k < i; k++) s -= l[lOffset + i * n + k] * x[k * m + c];
      x[i * m + c] = s / lii;
    }
  }
  return x;
}

/** Inverse of an n x n lower-triangular matrix in float64 (the result is lower triangular). */
export function invertLowerF64(l: ArrayLike<number>, n: number, offset = 0): Float64Array {
  const eye = new Float64Array(n * n);
  for (let i = 0; i < n; i++) eye[i * n + i] = 1;
  return solveLowerF64(l, eye, n, n, offset, 0);
}

/** Batch size and matrix size of a [n, n] or [batch, n, n] shape; throws on anything else. */
function squareShape(shape: number[], what: string): { batch: number; n: number } {
  const rank = shape.length;
  if ((rank !== 2 && rank !== 3) || shape[rank - 1] !== shape[rank - 2]) {
    throw new Error(`${what}: expected a [n, n] or [batch, n, n] tensor, got [${shape}]`);
  }
  return { batch: rank === 3 ? shape[0] : 1, n: shape[rank - 1] };
}

/** Swaps the last two axes of a rank-2 or rank-3 tensor. */
function transposeLast(x: tf.Tensor): tf.Tensor {
  return x.rank === 3 ? tf.transpose(x, [0, 2, 1]) : tf.transpose(x);
}

/** Lower triangle of the last two axes (diagonal included). */
function tril(x: tf.Tensor): tf.Tensor {
  return tf.linalg.bandPart(x, -1, 0);
}

const choleskyOp = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [a, save] = args as [tf.Tensor, tf.GradSaveFunc];
  const { batch, n } = squareShape(a.shape, "cholesky");
  const data = a.dataSync();
  const lOut = new Float32Array(batch * n * n);
  const wOut = new Float32Array(batch * n * n);
  for (let b = 0; b < batch; b++) {
    let l: Float64Array;
    try {
      l = choleskyF64(data, n, b * n * n);
    } catch (e) {
      const where = batch > 1 ? ` (matrix ${b} of the batch of ${batch})` : "";
      throw new Error(`${(e as Error).message}${where}`);
    }
    lOut.set(l, b * n * n);
    wOut.set(invertLowerF64(l, n), b * n * n);
  }
  const lT = tf.tensor(lOut, a.shape);
  const wT = tf.tensor(wOut, a.shape);
  save([lT, wT]);
  return {
    value: lT,
    gradFunc: (dL: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const [lS, wS] = saved;
      const p = tf.matMul(lS, dL as tf.Tensor, true, false); // L^T dL
      const phi = tf.sub(tril(p), tf.mul(0.5, tf.linalg.bandPart(p, 0, 0)));
      const s = tf.matMul(tf.matMul(wS, phi, true, false), wS); // W^T Phi W
      return [tf.mul(0.5, tf.add(s, transposeLast(s)))];
    },
  };
});

/**
 * Differentiable lower Cholesky factor L (A = L L^T) of a symmetric positive-definite matrix
 * or batch of matrices ([n, n] or [batch, n, n]). Only the lower triangle of A is read; the
 * gradient returned for A is symmetric. Throws (naming the batch entry) when A is not
 * positive definite.
 *
 * @example
 * const l = cholesky(tf.tensor2d([[4, 2], [2, 5]])); // [[2, 0], [1, 2]]
 */
export function cholesky<T extends tf.Tensor2D | tf.Tensor3D>(a: T): T {
  return choleskyOp(a) as T;
}

const solveLowerOp = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [l, b, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  const { batch, n } = squareShape(l.shape, "solveLowerTriangular");
  if (b.rank !== l.rank || b.shape[b.rank - 2] !== n || (l.rank === 3 && b.shape[0] !== batch)) {
    throw new Error(
      `solveLowerTriangular: B must be [${l.rank === 3 ? `${batch}, ` : ""}${n}, m] to match ` +
        `L [${l.shape}], got [${b.shape}]`,
    );
  }
  const m = b.shape[b.rank - 1];
  const lData = l.dataSync();
  const bData = b.dataSync();
  const xOut = new Float32Array(batch * n * m);
  const wOut = new Float32Array(batch * n * n);
  for (let k = 0; k < batch; k++) {
    xOut.set(solveLowerF64(lData, bData, n, m, k * n * n, k * n * m), k * n * m);
    wOut.set(invertLowerF64(lData, n, k * n * n), k * n * n);
  }
  const xT = tf.tensor(xOut, b.shape);
  const wT = tf.tensor(wOut, l.shape);
  save([wT, xT]);
  return {
    value: xT,
    gradFunc: (dX: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const [wS, xS] = saved;
      const dB = tf.matMul(wS, dX as tf.Tensor, true, false); // L^-T dX
      const dL = tf.neg(tril(tf.matMul(dB, xS, false, true))); // -tril(dB X^T)
      return [dL, dB];
    },
  };
});

/**
 * Differentiable solution X of L X = B for lower-triangular L ([n, n] with B [n, m], or
 * batched [batch, n, n] with B [batch, n, m]); the `torch.triangular_solve(B, L, upper=False)`
 * of the W-MSE whitening. Only the lower triangle of L is read, and its gradient is lower
 * triangular.
 *
 * @example
 * const w = solveLowerTriangular(cholesky(cov), tf.eye(n)); // W = L^-1, so W cov W^T = I
 */
export function solveLowerTriangular<T extends tf.Tensor2D | tf.Tensor3D>(l: T, b: T): T {
  return solveLowerOp(l, b) as T;
}
