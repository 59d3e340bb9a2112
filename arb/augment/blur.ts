/**
 * Per-image Gaussian blur as two batched matrix products: Y_i = A_i X_i A'_i^T with A_i the
 * H x H (A'_i the W x W) blur operator of image i. Each image gets its own sigma at no extra
 * cost, and the boundary is folded into the matrices.
 *
 * Kernel: exp(-k^2 / (2 sigma^2)) for |k| <= ceil(3 sigma) (13 taps at sigma 2), normalised to
 * sum 1. Boundary: half-sample symmetric reflection (the edge pixel repeated: ... b a | a b ...,
 * scipy.ndimage's "reflect"; torchvision's GaussianBlur reflects without repeating the edge).
 * With this boundary the operator matrix is symmetric, so the blur preserves both a constant
 * image and the image mean exactly.
 */
import type { tf } from "../tf.ts";
import { applySeparable } from "./separable.ts";

/** The n x n blur operator for sigma (row-major), boundary reflected with the edge repeated. */
export function blurMatrix(n: number, sigma: number): Float32Array {
  if (!(sigma > 0)) throw new Error(`blurMatrix: sigma must be > 0, got ${sigma}`);
  const radius = Math.ceil(3 * sigma);
  const weights = Array.from(
    { length: 2 * radius + 1 },
    (_, k) => Math.exp(-((k - radius) ** 2) / (2 * sigma * sigma)),
  );
  const total = weights.reduce((s, v) => s + v, 0);
  const m = new Float64Array(n * n);
  for (let r = 0; r < n; r++) {
    for (let k = -radius; k <= radius; k++) {
      m[r * n + reflect(r + k, n)] += weights[k + radius] / total;
    }
  }
  return Float32Array.from(m);
}

function reflect(j: number, n: number): number {
  const period = 2 * n;
  const m = ((j % period) + period) % period;
  return m < n ? m : period - 1 - m;
}

/** Blurs image i of x with sigmas[i]; sigma 0 leaves an image untouched (identity operator). */
export function gaussianBlur(x: tf.Tensor4D, sigmas: number[]): tf.Tensor4D {
  const [n, h, w] = x.shape;
  if (sigmas.length !== n) throw new Error(`gaussianBlur: need ${n} sigmas, got ${sigmas.length}`);
  const rows = new Float32Array(n * h * h), cols = new Float32Array(n * w * w);
  sigmas.forEach((s, i) => {
    rows.set(s > 0 ? blurMatrix(h, s) : identity(h), i * h * h);
    cols.set(s > 0 ? blurMatrix(w, s) : identity(w), i * w * w);
  });
  return applySeparable(x, rows, cols);
}

function identity(n: number): Float32Array {
  const m = new Float32Array(n * n);
  for (let i = 0; i < n; i++) m[i * n + i] = 1;
  return m;
}
