/**
 * Barlow Twins: "Barlow Twins: Self-Supervised Learning via Redundancy Reduction",
 * Zbontar, Jing, Misra, LeCun & Deny, ICML 2021, eq. (1)-(2):
 *   C_ij = sum_b zA_bi zB_bj / (sqrt(sum_b zA_bi^2) sqrt(sum_b zB_bj^2)) on batch-normalised
 *   embeddings, computed as in the paper's code: C = BN(z1)^T BN(z2) / N with BN the
 *   non-affine training-mode batch norm ((z - mean) / sqrt(biased var + 1e-5));
 *   L = sum_i (1 - C_ii)^2 + lambda sum_i sum_{j != i} C_ij^2, lambda = 0.0051.
 */
import { z } from "zod";
import { tf } from "../tf.ts";
import { Rng } from "../rng.ts";

/** The paper's weight of the off-diagonal (redundancy reduction) term. */
export const BARLOW_TWINS_LAMBDA = 0.0051;
/** Batch-norm epsilon (PyTorch BatchNorm1d default, as in the paper's code). */
export const BARLOW_TWINS_BN_EPS = 1e-5;

/** Options of the Barlow Twins loss (validated; unknown keys are an error). */
export const BarlowTwinsOptions = z.object({
  /** Weight of the off-diagonal term. */
  lambda: z.number().nonnegative().default(BARLOW_TWINS_LAMBDA),
  /** Accepted for a uniform loss interface; Barlow Twins draws no randomness. */
  rng: z.instanceof(Rng).optional(),
}).strict();

/** Barlow Twins options. */
export type BarlowTwinsOptions = z.input<typeof BarlowTwinsOptions>;

/** Non-affine batch norm over the rows of z (N x D), biased variance, as BatchNorm1d(affine=False). */
export function batchNormalize(z: tf.Tensor2D, eps = BARLOW_TWINS_BN_EPS): tf.Tensor2D {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(z, 0, true);
    return z.sub(mean).div(variance.add(eps).sqrt());
  });
}

/**
 * The Barlow Twins loss of two views z1, z2 (N x D each). Differentiable.
 *
 * @example
 * const loss = barlowTwinsLoss(z1, z2); // lambda = 0.0051
 */
export function barlowTwinsLoss(
  z1: tf.Tensor2D,
  z2: tf.Tensor2D,
  options: BarlowTwinsOptions = {},
): tf.Scalar {
  const parsed = BarlowTwinsOptions.safeParse(options);
  if (!parsed.success) {
    throw new Error(
      `barlow_twins loss options: ${
        parsed.error.issues.map((i) => `${i.path.join(".") || "(options)"}: ${i.message}`).join(
          "; ",
        )
      }`,
    );
  }
  if (
    z1.rank !== 2 || z2.rank !== 2 || z1.shape[0] !== z2.shape[0] || z1.shape[1] !== z2.shape[1]
  ) {
    throw new Error(
      `barlow_twins loss: z1 and z2 must both be N x D, got ${z1.shape} and ${z2.shape}`,
    );
  }
  const [n, d] = z1.shape;
  if (n < 2) throw new Error(`barlow_twins loss: need a batch of at least 2, got N=${n}`);
  const { lambda } = parsed.data;
  return tf.tidy(() => {
    const c = tf.matMul(batchNormalize(z1), batchNormalize(z2), true, false).div(n);
    const diag = c.mul(tf.eye(d)).sum(1);
    const onDiag = diag.sub(1).square().sum();
    const offDiag = c.square().sum().sub(diag.square().sum());
    return onDiag.add(offDiag.mul(lambda)) as tf.Scalar;
  });
}
