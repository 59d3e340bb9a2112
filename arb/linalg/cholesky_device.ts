/**
 * Cholesky factorisation and lower-triangular solve written only with tfjs ops, for backends
 * that cannot read tensors synchronously (WebGPU under Deno: `dataSync` needs an
 * OffscreenCanvas that Deno lacks), where the host float64 path of `cholesky.ts` cannot run.
 * Gradients come from tfjs autodiff through the loop.
 *
 * Both are right-looking (outer-product) eliminations over the n columns, batched over the
 * leading axis: about 7 small ops per column (n = 64: ~450 ops forward). A matrix that is not
 * positive definite gives NaN entries instead of an error (no value can be inspected without a
 * read); callers see a non-finite loss.
 */
import { tf } from "../tf.ts";

/** Rows >= k of an n-row column: a [n, 1] 0/1 mask. */
function rowsFrom(k: number, n: number): tf.Tensor2D {
  return tf.tensor2d(Array.from({ length: n }, (_, i) => (i >= k ? 1 : 0)), [n, 1]);
}

/**
 * Lower Cholesky factor of [batch, n, n] symmetric positive-definite matrices, on the device.
 * Reads only the lower triangle (the upper one is mirrored from it). Differentiable.
 */
export function choleskyOnDevice(a: tf.Tensor3D): tf.Tensor3D {
  return tf.tidy(() => {
    const [batch, n] = a.shape;
    // Masks, not tf.linalg.bandPart: its gradient (unstack/stack) breaks for a batch of one.
    const strictlyLower = tf.tensor2d(
      Array.from({ length: n * n }, (_, i) => (Math.floor(i / n) > i % n ? 1 : 0)),
      [n, n],
    );
    const below = tf.mul(a, strictlyLower);
    let s = tf.add(tf.add(below, tf.transpose(below, [0, 2, 1])), tf.mul(a, tf.eye(n)));
    const columns: tf.Tensor[] = [];
    for (let k = 0; k < n; k++) {
      const column = tf.slice(s, [0, 0, k], [batch, n, 1]);
      const pivot = tf.sqrt(tf.slice(s, [0, k, k], [batch, 1, 1]));
      const c = tf.mul(tf.div(column, pivot), rowsFrom(k, n));
      columns.push(c);
      if (k < n - 1) s = tf.sub(s, tf.matMul(c, c, false, true));
    }
    return tf.concat(columns, 2) as tf.Tensor3D;
  });
}

/**
 * X with L X = B for [batch, n, n] lower-triangular L and [batch, n, m] B, on the device
 * (only L's lower triangle is read). Differentiable.
 */
export function solveLowerOnDevice(l: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D {
  return tf.tidy(() => {
    const [batch, n] = l.shape;
    const m = b.shape[2];
    let rest = b as tf.Tensor;
    const rows: tf.Tensor[] = [];
    for (let i = 0; i < n; i++) {
      const row = tf.div(
        tf.slice(rest, [0, i, 0], [batch, 1, m]),
        tf.slice(l, [0, i, i], [batch, 1, 1]),
      );
      rows.push(row);
      if (i < n - 1) {
        // rows below i lose L[:, i] x_i; rows <= i are done and masked out
        const column = tf.mul(tf.slice(l, [0, 0, i], [batch, n, 1]), rowsFrom(i + 1, n));
        rest = tf.sub(rest, tf.matMul(column, row));
      }
    }
    return tf.concat(rows, 1) as tf.Tensor3D;
  });
}
