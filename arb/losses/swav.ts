/**
 * SwAV loss (Caron et al., "Unsupervised Learning of Visual Features by Contrasting Cluster
 * Assignments", NeurIPS 2020, eqs. 1-3): embeddings are l2-normalised and scored against K
 * prototypes c_k (unit vectors, no bias); codes q are computed from one view by Sinkhorn-Knopp
 * (equal-partition optimal transport, entropy epsilon, no gradient) and predicted from the
 * other view with a softmax at temperature t:
 *
 *   p_s = softmax(z_s^T C / t),  l(z_t, q_s) = -sum_k q_s^(k) log p_t^(k)
 *   loss = 1/2 * mean_i [ l(z2_i, q1_i) + l(z1_i, q2_i) ]
 *
 * Matches facebookresearch/swav `main_swav.py` (`train`: prototypes re-normalised in place
 * before each forward, no gradient through that; `q = sinkhorn(exp(out / epsilon))`, 3
 * iterations, epsilon 0.05; `subloss -= mean(sum(q * log_softmax(x / temperature)))` over the
 * other crops, averaged; optional queue of past embeddings whose prototype scores are prepended
 * before Sinkhorn, used once full; prototype gradients cancelled for the first iterations).
 * solo-learn (`solo/methods/swav.py`) differs in two ways we do not copy: it reparametrises the
 * prototypes with `weight_norm` (gradients flow through the normalisation) and uses its queue as
 * soon as the queue epoch starts, while it may still hold zero rows.
 *
 * How state is passed (contracts.md, `MethodState`): the prototypes (a `tf.Variable`, K x D)
 * and the queue live in `swavState` (`methodStates.swav`). Each step the trainer calls
 * `state.lossOptions({ epoch, step })`, which re-normalises the prototypes and returns
 * `{ prototypes, queue }` (`queue` is null until it is full), merges that into the loss options
 * and calls `swavLoss(z1, z2, options)`; after the step it calls `state.afterStep({ epoch,
 * step, z1, z2 })` with the projector outputs, which pushes their normalised rows into the
 * queue. `state.frozen({ epoch })` is true during the first `freeze_prototypes_epochs` epochs:
 * the trainer then must not update the prototypes.
 */
import { z } from "zod";
import { tf } from "../tf.ts";
import { Rng } from "../rng.ts";
import { checkViews, l2NormalizeRows, parseLossOptions, withoutGradient } from "./ops.ts";

/** SwAV options: the loss reads the first group; `swavState` reads the second. */
export const SwavOptions = z.object({
  temperature: z.number().positive().default(0.1),
  /** Sinkhorn-Knopp entropy regularisation. */
  epsilon: z.number().positive().default(0.05),
  sinkhorn_iterations: z.number().int().min(1).default(3),
  /** Set by `swavState.lossOptions`: K x D prototypes (a tf.Variable, trained). */
  prototypes: z.custom<tf.Tensor>((v) => v instanceof tf.Tensor, "must be a tf.Tensor")
    .optional(),
  /** Set by `swavState.lossOptions`: [2, L, D] past normalised embeddings, or null. */
  queue: z.custom<tf.Tensor>((v) => v instanceof tf.Tensor, "must be a tf.Tensor")
    .nullable().optional(),
  // Read by swavState (the trainer passes one record to both):
  num_prototypes: z.number().int().min(1).default(3000),
  /** Rows per view kept in the queue; 0 disables it. */
  queue_length: z.number().int().min(0).default(0),
  epoch_queue_starts: z.number().int().min(0).default(15),
  freeze_prototypes_epochs: z.number().int().min(0).default(1),
  /** Accepted and unused: the trainer may pass an `Rng` to every loss. */
  rng: z.instanceof(Rng).optional(),
}).strict();

/** Parsed SwAV options. */
export type SwavConfig = z.infer<typeof SwavOptions>;

/**
 * Sinkhorn-Knopp codes for prototype scores (B x K): Q = exp(scores / epsilon), then
 * alternately each prototype's total mass set to 1/K and each sample's to 1/B; returned scaled
 * so each sample's codes sum to 1 (B x K). As the official `distributed_sinkhorn` on one
 * device (which works on the K x B transpose; we keep B x K and normalise the other axis). The
 * global maximum is subtracted before `exp` (it cancels in the first normalisation) so that
 * float32 cannot overflow. Call it through `codes` inside a loss: it is not differentiable.
 */
export function sinkhornKnopp(
  scores: tf.Tensor2D,
  { iterations = 3, epsilon = 0.05 }: { iterations?: number; epsilon?: number } = {},
): tf.Tensor2D {
  return tf.tidy(() => {
    const [b, k] = scores.shape;
    let q = tf.exp(tf.div(tf.sub(scores, tf.max(scores)), epsilon));
    q = tf.div(q, tf.sum(q));
    for (let it = 0; it < iterations; it++) {
      q = tf.div(q, tf.mul(tf.sum(q, 0, true), k)); // prototypes: mass 1/K each
      q = tf.div(q, tf.mul(tf.sum(q, 1, true), b)); // samples: mass 1/B each
    }
    return tf.mul(q, b) as tf.Tensor2D;
  });
}

/**
 * Codes for the batch's scores (N x K), with the queue's scores (L x D queue rows against the
 * prototypes) prepended for Sinkhorn when a queue is given; constant for autodiff.
 */
function codes(
  scores: tf.Tensor2D,
  queued: tf.Tensor2D | null,
  prototypes: tf.Tensor2D,
  o: SwavConfig,
): tf.Tensor2D {
  const n = scores.shape[0];
  const sinkhorn = { iterations: o.sinkhorn_iterations, epsilon: o.epsilon };
  if (!queued) return withoutGradient(([s]) => sinkhornKnopp(s as tf.Tensor2D, sinkhorn), [scores]);
  return withoutGradient(([s, queue, c]) => {
    const all = tf.concat([tf.matMul(queue, c, false, true), s], 0) as tf.Tensor2D;
    const q = sinkhornKnopp(all, sinkhorn);
    return tf.slice(q, [q.shape[0] - n, 0], [n, q.shape[1]]);
  }, [scores, queued, prototypes]);
}

/**
 * SwAV swapped-prediction loss of two views z1, z2 (N x D projector outputs; normalised here).
 * Needs `options.prototypes` (K x D); `options.queue` ([2, L, D]) is optional.
 *
 * @example
 * const state = swavState({ projectorDim: 128, rng, params });
 * const loss = swavLoss(z1, z2, { ...params, ...state.lossOptions({ epoch, step }) });
 */
export function swavLoss(
  z1: tf.Tensor2D,
  z2: tf.Tensor2D,
  options?: Record<string, unknown>,
): tf.Scalar {
  const o = parseLossOptions(SwavOptions, options, "swav loss");
  const [, d] = checkViews(z1, z2, "swav");
  const prototypes = o.prototypes;
  if (!prototypes) {
    throw new Error(
      "swav loss: option prototypes is missing; create the method state with " +
        "methodStates.swav and merge state.lossOptions({ epoch, step }) into the loss options",
    );
  }
  if (prototypes.rank !== 2 || prototypes.shape[1] !== d) {
    throw new Error(`swav loss: prototypes must be K x ${d}, got [${prototypes.shape}]`);
  }
  const queue = o.queue ?? null;
  if (queue && (queue.rank !== 3 || queue.shape[0] !== 2 || queue.shape[2] !== d)) {
    throw new Error(`swav loss: queue must be [2, L, ${d}], got [${queue.shape}]`);
  }
  return tf.tidy(() => {
    const c = prototypes as tf.Tensor2D;
    const p1 = tf.matMul(l2NormalizeRows(z1), c, false, true) as tf.Tensor2D; // N x K scores
    const p2 = tf.matMul(l2NormalizeRows(z2), c, false, true) as tf.Tensor2D;
    const queued = (v: number) =>
      queue ? tf.squeeze(tf.slice(queue, [v, 0, 0], [1, -1, -1]), [0]) as tf.Tensor2D : null;
    const q1 = codes(p1, queued(0), c, o);
    const q2 = codes(p2, queued(1), c, o);
    const crossEntropy = (q: tf.Tensor2D, p: tf.Tensor2D) =>
      tf.neg(tf.mean(tf.sum(tf.mul(q, tf.logSoftmax(tf.div(p, o.temperature))), 1)));
    return tf.mul(0.5, tf.add(crossEntropy(q1, p2), crossEntropy(q2, p1))) as tf.Scalar;
  });
}
