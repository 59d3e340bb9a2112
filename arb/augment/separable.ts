/**
 * Per-image separable linear maps of the pixel grid, Y_i = R_i X_i C_i^T (every channel), as
 * two batched matmuls: the Gaussian blur and the exact integer crops/flips are both this.
 */
import { tf } from "../tf.ts";

/**
 * Applies row operators `rows` (N x H x H, row-major) and column operators `cols`
 * (N x W x W): out[i][r][c] = sum_{s, t} R_i[r][s] X_i[s][t] C_i[c][t].
 */
export function applySeparable(
  x: tf.Tensor4D,
  rows: Float32Array,
  cols: Float32Array,
): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  if (rows.length !== n * h * h || cols.length !== n * w * w) {
    throw new Error(
      `applySeparable: operator sizes ${rows.length}, ${cols.length} do not fit ${x.shape}`,
    );
  }
  return tf.tidy(() => {
    // rows: [n, h, h] x [n, h, w*c]
    const v = tf.matMul(tf.tensor3d(rows, [n, h, h]), x.reshape([n, h, w * c]) as tf.Tensor3D);
    // columns: [n, h*c, w] x [n, w, w]^T
    const t = v.reshape([n, h, w, c]).transpose([0, 1, 3, 2]).reshape([n, h * c, w]) as tf.Tensor3D;
    const out = tf.matMul(t, tf.tensor3d(cols, [n, w, w]), false, true);
    return out.reshape([n, h, c, w]).transpose([0, 1, 3, 2]) as tf.Tensor4D;
  });
}
