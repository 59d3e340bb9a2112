/**
 * Top-k accuracy: the fraction of rows whose label is among the k highest scores.
 */
import { tf } from "../tf.ts";

/** Correct counts for top-1 and top-5 in a batch (k is capped at the number of classes). */
export interface TopKCounts {
  top1: number;
  top5: number;
  n: number;
}

/**
 * Counts rows of `scores` (B x C) whose label (`labels`, B int32) is the highest score
 * (top-1) or among the five highest (top-5). Ties go to the lower class index (tf.topk).
 *
 * @example
 * await topkCounts(tf.tensor2d([[0.1, 0.9], [0.8, 0.2]]), tf.tensor1d([1, 1], "int32")); // { top1: 1, top5: 2, n: 2 }
 */
export async function topkCounts(scores: tf.Tensor2D, labels: tf.Tensor1D): Promise<TopKCounts> {
  const [n, classes] = scores.shape;
  const counts = tf.tidy(() => {
    const k = Math.min(5, classes);
    const { indices } = tf.topk(scores, k, true);
    const hit = tf.equal(indices, labels.reshape([n, 1]).toInt()).toFloat();
    const top1 = hit.slice([0, 0], [n, 1]).sum();
    const top5 = hit.sum();
    return tf.stack([top1, top5]);
  });
  // An asynchronous read: WebGPU under Deno cannot read synchronously.
  const [top1, top5] = await counts.data();
  counts.dispose();
  return { top1, top5, n };
}

/** Adds counts of several batches. */
export function addCounts(a: TopKCounts, b: TopKCounts): TopKCounts {
  return { top1: a.top1 + b.top1, top5: a.top5 + b.top5, n: a.n + b.n };
}

/** Counts as percentages. */
export function toPercent(c: TopKCounts): { top1: number; top5: number } {
  if (c.n === 0) throw new Error("accuracy of zero examples is undefined");
  return { top1: (100 * c.top1) / c.n, top5: (100 * c.top5) / c.n };
}
