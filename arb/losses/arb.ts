/**
 * ARB: "Align Representations with Base: A New Approach to Self-Supervised Learning",
 * Zhang, Qiu, Zheng, Huang, Zhang & Lin, CVPR 2022, section 3.2, eq. (5)-(7), as pinned down
 * in DESIGN.md ("The ARB method, precisely"):
 * 1. transpose Z (N x D) to D x N; optionally ("swap") permute the D rows of both views with
 *    one random permutation (it changes which features share a group);
 * 2. standardise every row over the batch: (z - mean) / (std + 1e-5), std unbiased;
 * 3. per group of D/G rows, the nearest orthonormal base B = C'^(-1/2) X with
 *    C = X X^T / (N - 1), C' = (1 - 1e-4) C + 1e-4 I, eigenvalues s entering as
 *    1 / sqrt(s + 1e-5); B is a constant (no gradient);
 * 4. L = sum_i ((x1_i . b2_i) / N - 1)^2 + sum_i ((x2_i . b1_i) / N - 1)^2.
 * Unlike the original code, a whitening that produces non-finite values is an error, never a
 * silent fall-back to the un-whitened features: "eigh" throws; "newton_schulz", which reads
 * nothing back (it runs where synchronous reads are impossible, e.g. WebGPU under Deno), makes
 * the loss NaN, on which the trainer stops naming the step.
 */
import { z } from "zod";
import { tf } from "../tf.ts";
import { Rng } from "../rng.ts";
import { zcaBase } from "../linalg/zca.ts";

/** Shrinkage weight of the identity in the covariance (DESIGN.md step 3). */
export const ARB_SHRINKAGE = 1e-4;
/** Added to the eigenvalues of the shrunk covariance (DESIGN.md step 3). */
export const ARB_EIG_EPS = 1e-5;
/** Added to the standard deviation when standardising rows (DESIGN.md step 2). */
export const ARB_STD_EPS = 1e-5;

/** Options of the ARB loss (validated; unknown keys are an error). */
export const ArbOptions = z.object({
  /** Number of feature groups G, each whitened on its own; D must be divisible by G. */
  groups: z.number().int().positive().default(1),
  /** Permute the feature rows (same permutation for both views) before grouping. */
  swap: z.boolean().default(false),
  /**
   * Inverse square root method: host float64 eigendecomposition ("eigh"), device Newton-Schulz
   * ("newton_schulz"), or "auto": Newton-Schulz on webgpu (whose tensors Deno cannot read
   * synchronously), eigh elsewhere.
   */
  whitening: z.enum(["auto", "eigh", "newton_schulz"]).default("auto"),
  /** Source of the swap permutation (a fresh one per call). */
  rng: z.instanceof(Rng).optional(),
  /** A fixed swap permutation of 0..D-1 (takes precedence over rng). */
  permutation: z.array(z.number().int().nonnegative()).optional(),
}).strict();

/** Parsed ARB options. */
export type ArbOptions = z.input<typeof ArbOptions>;

/**
 * Standardises every row of x (D x N) over its N columns: (x - mean) / (std + 1e-5) with the
 * unbiased std. Differentiable.
 */
export function standardizeRows(x: tf.Tensor2D, eps = ARB_STD_EPS): tf.Tensor2D {
  const n = x.shape[1];
  return tf.tidy(() => {
    const centred = x.sub(x.mean(1, true));
    // max(var, 1e-30) leaves every practical value unchanged and keeps the gradient of a
    // constant row finite (sqrt'(0) is infinite; the true gradient there is finite).
    const variance = centred.square().sum(1, true).div(n - 1).maximum(1e-30);
    return centred.div(variance.sqrt().add(eps));
  });
}

/**
 * The ARB loss of two views z1, z2 (N x D each). Differentiable with tf.grads w.r.t. both.
 *
 * @example
 * const loss = arbLoss(z1, z2, { groups: 2, swap: true, rng: new Rng(0) });
 */
export function arbLoss(z1: tf.Tensor2D, z2: tf.Tensor2D, options: ArbOptions = {}): tf.Scalar {
  const parsed = ArbOptions.safeParse(options);
  if (!parsed.success) {
    throw new Error(`arb loss options: ${parsed.error.issues.map(issueText).join("; ")}`);
  }
  const o = parsed.data;
  if (
    z1.rank !== 2 || z2.rank !== 2 || z1.shape[0] !== z2.shape[0] || z1.shape[1] !== z2.shape[1]
  ) {
    throw new Error(`arb loss: z1 and z2 must both be N x D, got ${z1.shape} and ${z2.shape}`);
  }
  const [n, d] = z1.shape;
  if (n < 2) throw new Error(`arb loss: need a batch of at least 2, got N=${n}`);
  if (d % o.groups !== 0) {
    throw new Error(`arb loss: groups=${o.groups} must divide the feature dimension D=${d}`);
  }
  const permutation = o.swap ? swapPermutation(d, o.permutation, o.rng) : undefined;
  return tf.tidy(() => {
    let x1 = z1.transpose() as tf.Tensor2D, x2 = z2.transpose() as tf.Tensor2D;
    if (permutation) {
      x1 = permuteRows(x1, permutation);
      x2 = permuteRows(x2, permutation);
    }
    x1 = standardizeRows(x1);
    x2 = standardizeRows(x2);
    const whitening = {
      groups: o.groups,
      method: resolveWhitening(o.whitening),
      shrinkage: ARB_SHRINKAGE,
      eps: ARB_EIG_EPS,
      maxRowVariance: 1, // standardised rows: unbiased variance (std / (std + 1e-5))^2 < 1
    };
    const b1 = zcaBase(x1, whitening), b2 = zcaBase(x2, whitening);
    const align = (x: tf.Tensor2D, b: tf.Tensor2D) => x.mul(b).sum(1).div(n).sub(1).square().sum();
    return align(x1, b2).add(align(x2, b1)) as tf.Scalar;
  });
}

/** The whitening method "auto" stands for on the active backend (see {@link ArbOptions}). */
export function resolveWhitening(
  whitening: "auto" | "eigh" | "newton_schulz",
): "eigh" | "newton_schulz" {
  if (whitening !== "auto") return whitening;
  return tf.getBackend() === "webgpu" ? "newton_schulz" : "eigh";
}

/**
 * Rows of x reordered by `permutation` (row i of the result is row permutation[i] of x), with
 * the gradient as the inverse reordering: tf.gather's own gradient needs UnsortedSegmentSum,
 * which the wasm backend lacks.
 */
export function permuteRows(x: tf.Tensor2D, permutation: number[]): tf.Tensor2D {
  const inverse = new Int32Array(permutation.length);
  permutation.forEach((p, i) => (inverse[p] = i));
  const op = tf.customGrad(
    ((t: tf.Tensor2D) => ({
      value: tf.gather(t, tf.tensor1d(permutation, "int32")),
      gradFunc: (dy: tf.Tensor2D) => tf.gather(dy, tf.tensor1d(inverse, "int32")),
    })) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  return op(x) as tf.Tensor2D;
}

function swapPermutation(d: number, fixed: number[] | undefined, rng: Rng | undefined): number[] {
  if (fixed) {
    const seen = new Uint8Array(d);
    for (const i of fixed) if (i < d) seen[i]++;
    if (fixed.length !== d || seen.some((c) => c !== 1)) {
      throw new Error(`arb loss: permutation must hold each of 0..${d - 1} exactly once`);
    }
    return fixed;
  }
  if (!rng) {
    throw new Error("arb loss: swap=true needs an `rng` (or a fixed `permutation`) option");
  }
  return rng.shuffle(Array.from({ length: d }, (_, i) => i));
}

function issueText(i: z.ZodIssue): string {
  return `${i.path.join(".") || "(options)"}: ${i.message}`;
}
