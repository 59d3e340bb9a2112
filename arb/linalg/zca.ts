/**
 * Grouped ZCA (symmetric) whitening base of a set of rows, the "base" of ARB
 * (Zhang et al., CVPR 2022, section 3; DESIGN.md "The ARB method", step 3):
 * for each group of D/G consecutive rows X_g (d x N),
 *   C = X_g X_g^T / (N - 1),  C' = (1 - shrinkage) C + shrinkage I,  B_g = (C' + eps I)^(-1/2) X_g.
 * The base is a constant: no gradient flows through it.
 *
 * With method "eigh" the covariance and its eigendecomposition run on the host in float64 from
 * the rows pulled off the backend; W = (C' + eps I)^(-1/2) is uploaded as float32 and B = W X
 * multiplied on the backend (float32, as B is stored; the host product was a tenth of a convnet
 * step's loss time). Host cost per group of d rows over N columns: about d^2 N flops for C and
 * 9 d^3 for the eigendecomposition. It reads synchronously, which WebGPU under Deno cannot.
 *
 * With "newton_schulz" everything stays on the backend (float32 matmuls) and nothing is read
 * back: the step count is fixed in advance ({@link zcaNewtonSchulzSteps}) from the shrinkage,
 * which bounds the smallest eigenvalue of C' + eps I below by shrinkage + eps, and from a bound
 * v on every row's mean square ||x_i||^2 / (N - 1) (`maxRowVariance`, 1 for the standardised
 * rows of ARB), which bounds ||C' + eps I||_F above by (1 - shrinkage) d v + (shrinkage + eps)
 * sqrt(d). A group whose iteration fails (non-finite input, rows larger than the bound said,
 * float32 breakdown) comes back as NaN, so a loss computed from it is NaN and the trainer
 * stops on it: never a silent fall-back.
 */
import { tf } from "../tf.ts";
import { gramRows } from "./dense.ts";
import type { EigenAlgorithm } from "./eigen.ts";
import {
  inverseSqrtHost,
  type InverseSqrtMethod,
  newtonSchulzInverseSqrtDevice,
  newtonSchulzIterations,
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
  /**
   * "newton_schulz" only: a bound on every row's mean square ||x_i||^2 / (N - 1) (default 1,
   * true of standardised rows); it sizes the fixed step count.
   */
  maxRowVariance?: number;
}

/**
 * Newton-Schulz steps that whiten any group of d rows whose mean squares are at most
 * `maxRowVariance` (see the module doc): {@link newtonSchulzIterations} at the ratio
 * (shrinkage + eps) / ((1 - shrinkage) d maxRowVariance + (shrinkage + eps) sqrt(d)).
 * ARB at d = 128 (shrinkage 1e-4, eps 1e-5, standardised rows): 22 steps.
 */
export function zcaNewtonSchulzSteps(
  d: number,
  { shrinkage = 1e-4, eps = 1e-5, maxRowVariance = 1 }: {
    shrinkage?: number;
    eps?: number;
    maxRowVariance?: number;
  } = {},
): number {
  if (!(maxRowVariance > 0 && Number.isFinite(maxRowVariance))) {
    throw new Error(`zcaBase: maxRowVariance must be a positive number, got ${maxRowVariance}`);
  }
  const floor = shrinkage + eps;
  if (!(floor > 0)) {
    throw new Error(
      "zcaBase: newton_schulz needs shrinkage + eps > 0 (they bound the smallest eigenvalue)",
    );
  }
  const normBound = (1 - shrinkage) * d * maxRowVariance + floor * Math.sqrt(d);
  return newtonSchulzIterations(Math.min(1, floor / normBound));
}

/**
 * The grouped ZCA base B (D x N) of the rows of x (D x N), as a new tensor that carries no
 * gradient. Never falls back to un-whitened rows: "eigh" throws when x or the whitening is not
 * finite; "newton_schulz" (no synchronous read) returns NaN rows for a group that failed.
 *
 * @example
 * const b = zcaBase(x, { groups: 2 }); // b.matMul(b, false, true).div(N - 1) is about I per group
 */
export function zcaBase(
  x: tf.Tensor2D,
  {
    groups = 1,
    method = "eigh",
    shrinkage = 1e-4,
    eps = 1e-5,
    algorithm = "ql",
    maxRowVariance = 1,
  }: ZcaOptions = {},
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
  if (method === "newton_schulz") {
    const steps = zcaNewtonSchulzSteps(d, { shrinkage, eps, maxRowVariance });
    return zcaBaseDevice(x, groups, d, shrinkage, eps, steps);
  }
  if (method !== "eigh") {
    throw new Error(`zcaBase: unknown method "${method}" (use "eigh" or "newton_schulz")`);
  }
  const data = readRows(x);
  assertFinite(data, cols, "input rows");
  const ws = new Float32Array(groups * d * d);
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
    ws.set(w, g * d * d);
  }
  assertFinite(ws, d, "whitening matrices");
  return detached(x, (input) =>
    tf.tidy(() => {
      const w = tf.tensor3d(ws, [groups, d, d]);
      if (groups === 1) return tf.matMul(w.reshape([d, d]), input) as tf.Tensor2D;
      // one product per group: a batched matmul takes a slow path on wasm
      const parts = tf.split(input, groups, 0).map((xg, g) =>
        tf.matMul(w.slice([g, 0, 0], [1, d, d]).reshape([d, d]), xg)
      );
      return tf.concat(parts, 0) as tf.Tensor2D;
    }));
}

/**
 * fn(x) as a constant for autodiff: computed inside a custom-gradient op, whose forward runs off
 * the gradient tape (backprop does not differentiate through it only to multiply by zero).
 */
function detached(x: tf.Tensor2D, fn: (input: tf.Tensor2D) => tf.Tensor2D): tf.Tensor2D {
  const op = tf.customGrad(
    ((input: tf.Tensor2D) => ({
      value: fn(input),
      gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
    })) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  return op(x) as tf.Tensor2D;
}

function zcaBaseDevice(
  x: tf.Tensor2D,
  groups: number,
  d: number,
  shrinkage: number,
  eps: number,
  steps: number,
): tf.Tensor2D {
  const [rows, cols] = x.shape;
  return detached(x, (input) =>
    tf.tidy(() => {
      const xs = input.reshape([groups, d, cols]) as tf.Tensor3D;
      const cov = tf.matMul(xs, xs, false, true).div(cols - 1);
      const shrunk = cov.mul(1 - shrinkage).add(tf.eye(d).mul(shrinkage)) as tf.Tensor3D;
      const w = newtonSchulzInverseSqrtDevice(shrunk, { eps, iterations: steps });
      w.residual.dispose();
      return tf.matMul(w.value, xs).reshape([rows, cols]) as tf.Tensor2D;
    }));
}

/** The rows on the host, or an error that says which method to use where they cannot be read. */
function readRows(x: tf.Tensor2D): Float32Array {
  try {
    return x.dataSync() as Float32Array;
  } catch (e) {
    throw new Error(
      `zcaBase: method "eigh" reads the rows synchronously, which the ${tf.getBackend()} ` +
        `backend cannot do here (${(e as Error).message.split("\n")[0]}); use method ` +
        `"newton_schulz" (ARB: whitening "newton_schulz" or "auto")`,
    );
  }
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
