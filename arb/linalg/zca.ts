/**
 * Grouped ZCA (symmetric) whitening base of a set of rows, the "base" of ARB
 * (Zhang et al., CVPR 2022, section 3; DESIGN.md "The ARB method", step 3):
 * for each group of D/G consecutive rows X_g (d x N),
 *   C = X_g X_g^T / (N - 1),  C' = (1 - shrinkage) C + shrinkage I,  B_g = (C' + eps I)^(-1/2) X_g.
 * The base is a constant: no gradient flows through it.
 *
 * With method "eigh" the whole computation (covariance, eigendecomposition, B = W X) runs on
 * the host in float64 from the rows pulled off the backend, and B is uploaded as float32.
 * Host cost per group of d rows over N columns: about 3 d^2 N flops for C and B plus about
 * 9 d^3 for the eigendecomposition. With "newton_schulz" everything stays on the backend
 * (float32 matmuls) except two scalar reads.
 */
import { tf } from "../tf.ts";
import { stopGradient } from "./stop_gradient.ts";
import { gramRows, multiplyRowsInto } from "./dense.ts";
import type { EigenAlgorithm } from "./eigen.ts";
import {
  inverseSqrtHost,
  type InverseSqrtMethod,
  newtonSchulzInverseSqrt,
} from "./inverse_sqrt.ts";

/** Options for {@link zcaBase}. */
export interface ZcaOptions {
  /** Number of groups G; D must be divisible by G (default 1). */
  groups?: number;
  /** "eigh" (host float64, default) or "newton_schulz" (device). */
  method?: InverseSqrtMethod;
  /** Weight of the identity in the shrunk covariance (default 1e-4). */
  shrinkage?: number;
  /** Added to the eigenvalues of the shrunk covariance (default 1e-5). */
  eps?: number;
  /** Host eigensolver for "eigh" (default "ql"). */
  algorithm?: EigenAlgorithm;
}

/**
 * The grouped ZCA base B (D x N) of the rows of x (D x N), as a new tensor outside any
 * gradient tape. Throws (never falls back) when x or the whitening is not finite.
 *
 * @example
 * const b = zcaBase(x, { groups: 2 }); // b.matMul(b, false, true).div(N - 1) is about I per group
 */
export function zcaBase(
  x: tf.Tensor2D,
  { groups = 1, method = "eigh", shrinkage = 1e-4, eps = 1e-5, algorithm = "ql" }: ZcaOptions = {},
): tf.Tensor2D {
  if (x.rank !== 2) throw new Error(`zcaBase: expected a D x N matrix, got shape ${x.shape}`);
  const [rows, cols] = x.shape;
  if (!Number.isInteger(groups) || groups < 1 || rows % groups !== 0) {
    throw new Error(`zcaBase: groups=${groups} must be a positive divisor of the ${rows} rows`);
  }
  if (cols < 2) throw new Error(`zcaBase: need at least 2 columns (samples), got ${cols}`);
  if (!(shrinkage >= 0 && shrinkage <= 1)) {
    throw new Error(`zcaBase: shrinkage must be in [0, 1], got ${shrinkage}`);
  }
  const d = rows / groups;
  if (method === "newton_schulz") return zcaBaseDevice(x, groups, d, shrinkage, eps);
  if (method !== "eigh") {
    throw new Error(`zcaBase: unknown method "${method}" (use "eigh" or "newton_schulz")`);
  }
  const data = x.dataSync();
  assertFinite(data, cols, "input rows");
  const out = new Float32Array(rows * cols);
  for (let g = 0; g < groups; g++) {
    const c = gramRows(data, cols, g * d, d, cols - 1);
    for (let i = 0; i < d * d; i++) c[i] *= 1 - shrinkage;
    for (let i = 0; i < d; i++) c[i * d + i] += shrinkage;
    let w: Float64Array;
    try {
      w = inverseSqrtHost(c, d, { eps, algorithm });
    } catch (e) {
      throw new Error(`zcaBase: whitening of group ${g} failed: ${(e as Error).message}`);
    }
    multiplyRowsInto(w, d, data, g * d, cols, out, g * d);
  }
  assertFinite(out, cols, "whitened base");
  return tf.tensor2d(out, [rows, cols], "float32");
}

function zcaBaseDevice(
  x: tf.Tensor2D,
  groups: number,
  d: number,
  shrinkage: number,
  eps: number,
): tf.Tensor2D {
  const [rows, cols] = x.shape;
  return tf.tidy(() => {
    const xs = stopGradient(x).reshape([groups, d, cols]) as tf.Tensor3D;
    if (!tf.all(tf.isFinite(xs)).dataSync()[0]) {
      throw new Error("zcaBase: the input rows hold non-finite values");
    }
    const cov = tf.matMul(xs, xs, false, true).div(cols - 1);
    const shrunk = cov.mul(1 - shrinkage).add(tf.eye(d).mul(shrinkage)) as tf.Tensor3D;
    let w: tf.Tensor3D;
    try {
      w = newtonSchulzInverseSqrt(shrunk, { eps, lowerBound: shrinkage }).value;
    } catch (e) {
      throw new Error(`zcaBase: whitening failed: ${(e as Error).message}`);
    }
    const b = tf.matMul(w, xs).reshape([rows, cols]) as tf.Tensor2D;
    if (!tf.all(tf.isFinite(b)).dataSync()[0]) {
      throw new Error("zcaBase: the whitened base holds non-finite values");
    }
    return b;
  });
}

function assertFinite(a: ArrayLike<number>, cols: number, what: string): void {
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) {
      throw new Error(
        `zcaBase: the ${what} hold a non-finite value ${a[i]} at row ${Math.floor(i / cols)}, ` +
          `column ${i % cols}`,
      );
    }
  }
}
