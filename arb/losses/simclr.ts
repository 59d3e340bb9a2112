/**
 * SimCLR's NT-Xent loss (Chen et al., "A Simple Framework for Contrastive Learning of Visual
 * Representations", ICML 2020, eq. 1 and Algorithm 1):
 *
 *   l(i, j) = -log( exp(sim(z_i, z_j) / t) / sum_{k != i} exp(sim(z_i, z_k) / t) )
 *   L = 1 / (2N) * sum_k [ l(2k-1, 2k) + l(2k, 2k-1) ]
 *
 * with sim the cosine similarity. Each of the 2N anchors has one positive (its other view)
 * and 2N - 2 negatives (every other sample of both views; the anchor itself is excluded).
 *
 * Matches google-research/simclr `objective.py` `add_contrastive_loss` (l2-normalise, logits
 * ab/aa and ba/bb with the self-similarity masked by a large negative number, softmax cross
 * entropy), except for one factor: that code returns loss_a + loss_b, the *sum* of the two
 * directions' means, which is twice the paper's equation. We return the paper's mean over all
 * 2N anchors, as does solo-learn `solo/losses/simclr.py` (`-mean(log(pos / (pos + neg)))`).
 * The factor only scales the gradient.
 *
 * Options: `temperature` (default 0.5: the SimCLR README's CIFAR-10 command, batch 512;
 * solo-learn's CIFAR recipe uses 0.2, see configs/recipes/simclr.yaml).
 */
import { z } from "zod";
import { tf } from "../tf.ts";
import { Rng } from "../rng.ts";
import { checkViews, l2NormalizeRows, parseLossOptions } from "./ops.ts";

/** SimCLR loss options. */
export const SimclrOptions = z.object({
  temperature: z.number().positive().default(0.5),
  /** Accepted and unused: the trainer may pass an `Rng` to every loss. */
  rng: z.instanceof(Rng).optional(),
}).strict();

/** Self-similarity is pushed out of the softmax by this much (the official LARGE_NUM). */
const LARGE_NUM = 1e9;

/**
 * NT-Xent loss of two views z1, z2 (N x D each, row i of both from the same image).
 *
 * @example
 * const loss = simclrLoss(z1, z2, { temperature: 0.2 });
 */
export function simclrLoss(
  z1: tf.Tensor2D,
  z2: tf.Tensor2D,
  options?: Record<string, unknown>,
): tf.Scalar {
  const { temperature } = parseLossOptions(SimclrOptions, options, "simclr loss");
  const [n] = checkViews(z1, z2, "simclr loss");
  return tf.tidy(() => {
    const h = tf.concat([l2NormalizeRows(z1), l2NormalizeRows(z2)], 0); // 2N x D
    const logits = tf.div(tf.matMul(h, h, false, true), temperature); // 2N x 2N
    const self = tf.mul(tf.eye(2 * n), LARGE_NUM);
    const masked = tf.sub(logits, self);
    // Positive of anchor i is i + N (mod 2N): the other view of the same image.
    const positiveIndex = tf.tensor1d(
      Array.from({ length: 2 * n }, (_, i) => (i + n) % (2 * n)),
      "int32",
    );
    const positiveMask = tf.oneHot(positiveIndex, 2 * n).toFloat();
    const positive = tf.sum(tf.mul(logits, positiveMask), 1);
    const perAnchor = tf.sub(tf.logSumExp(masked, 1), positive);
    return tf.mean(perAnchor) as tf.Scalar;
  });
}
