/**
 * VICReg loss (Bardes, Ponce, LeCun, "VICReg: Variance-Invariance-Covariance Regularization
 * for Self-Supervised Learning", ICLR 2022, eqs. 1-6):
 *
 *   s(Z, Z')  = 1/N sum_i ||z_i - z'_i||^2 / D             (invariance: the mean squared error)
 *   v(Z)      = 1/D sum_j max(0, 1 - sqrt(Var(z^j) + eps)) (variance hinge, eps = 1e-4)
 *   c(Z)      = 1/D sum_{i != j} C(Z)_ij^2                  (covariance, C over N - 1)
 *   loss = lambda s + mu (v(Z) + v(Z')) / 2 + nu (c(Z) + c(Z'))
 *
 * with lambda = mu = 25, nu = 1. This is facebookresearch/vicreg `main_vicreg.py`
 * `VICReg.forward`: `F.mse_loss(x, y)`; `std_loss = mean(relu(1 - std_x)) / 2 +
 * mean(relu(1 - std_y)) / 2` with `std = sqrt(x.var(dim=0) + 0.0001)` (unbiased variance);
 * `cov = x^T x / (batch_size - 1)` on centred x; `off_diagonal(cov).pow(2).sum() / num_features`
 * per branch, summed.
 *
 * Where implementations differ: solo-learn (`solo/losses/vicreg.py`, `variance_loss`) sums the
 * two branches' variance terms instead of averaging them, which doubles the effective variance
 * weight. We follow the official code by default (`variance_reduction: "mean"`); set
 * `variance_reduction: "sum"` for solo-learn's variant. The covariance and invariance terms agree.
 */
import { z } from "zod";
import { tf } from "../tf.ts";
import { Rng } from "../rng.ts";
import { checkViews, parseLossOptions } from "./ops.ts";

/** VICReg loss options (official names from `main_vicreg.py`). */
export const VicregOptions = z.object({
  /** Invariance weight lambda. */
  sim_coeff: z.number().nonnegative().default(25),
  /** Variance weight mu. */
  std_coeff: z.number().nonnegative().default(25),
  /** Covariance weight nu. */
  cov_coeff: z.number().nonnegative().default(1),
  /** Added to the variance inside the square root. */
  std_eps: z.number().positive().default(1e-4),
  /** "mean": official (v(Z) + v(Z')) / 2; "sum": solo-learn v(Z) + v(Z'). */
  variance_reduction: z.enum(["mean", "sum"]).default("mean"),
  /** Accepted and unused: the trainer may pass an `Rng` to every loss. */
  rng: z.instanceof(Rng).optional(),
}).strict();

/**
 * Variance hinge and off-diagonal covariance penalty of one branch (N x D).
 *
 * With D > N (CIFAR: D = 2048, N = 256) the D x D covariance is never formed: the sum of its
 * squared entries equals that of the N x N Gram matrix (||X^T X||_F = ||X X^T||_F), so
 * sum_{i != j} C_ij^2 = ||X X^T||_F^2 / (N - 1)^2 - sum_j C_jj^2, about D / N times fewer
 * flops forward and backward. C has rank < N < D there, so the off-diagonal part dominates
 * and the subtraction loses no precision. With D <= N the masked D x D form is used.
 */
function varianceAndCovariance(
  x: tf.Tensor2D,
  stdEps: number,
): { variance: tf.Scalar; covariance: tf.Scalar } {
  const [n, d] = x.shape;
  const centred = tf.sub(x, tf.mean(x, 0, true));
  const unbiasedVar = tf.div(tf.sum(tf.square(centred), 0), n - 1); // diagonal of C
  const std = tf.sqrt(tf.add(unbiasedVar, stdEps));
  const variance = tf.mean(tf.relu(tf.sub(1, std))) as tf.Scalar;
  let offDiagonalSquares: tf.Tensor;
  if (d > n) {
    const gram = tf.matMul(centred, centred, false, true); // N x N
    const all = tf.div(tf.sum(tf.square(gram)), (n - 1) ** 2);
    offDiagonalSquares = tf.sub(all, tf.sum(tf.square(unbiasedVar)));
  } else {
    const cov = tf.div(tf.matMul(centred, centred, true, false), n - 1); // D x D
    offDiagonalSquares = tf.sum(tf.square(tf.mul(cov, tf.sub(1, tf.eye(d)))));
  }
  const covariance = tf.div(offDiagonalSquares, d) as tf.Scalar;
  return { variance, covariance };
}

/**
 * VICReg loss of two views z1, z2 (N x D each, N >= 2).
 *
 * @example
 * const loss = vicregLoss(z1, z2); // 25 * invariance + 25 * variance + 1 * covariance
 */
export function vicregLoss(
  z1: tf.Tensor2D,
  z2: tf.Tensor2D,
  options?: Record<string, unknown>,
): tf.Scalar {
  const o = parseLossOptions(VicregOptions, options, "vicreg loss");
  const [n] = checkViews(z1, z2, "vicreg loss");
  if (n < 2) throw new Error(`vicreg loss: needs a batch of at least 2 samples, got ${n}`);
  return tf.tidy(() => {
    const invariance = tf.mean(tf.square(tf.sub(z1, z2)));
    const a = varianceAndCovariance(z1, o.std_eps);
    const b = varianceAndCovariance(z2, o.std_eps);
    const varianceSum = tf.add(a.variance, b.variance);
    const variance = o.variance_reduction === "mean" ? tf.mul(0.5, varianceSum) : varianceSum;
    const covariance = tf.add(a.covariance, b.covariance);
    return tf.addN([
      tf.mul(o.sim_coeff, invariance),
      tf.mul(o.std_coeff, variance),
      tf.mul(o.cov_coeff, covariance),
    ]) as tf.Scalar;
  });
}
