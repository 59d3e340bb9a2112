/**
 * Weighted k-nearest-neighbour classification on frozen features, the tuning-free probe of
 * Wu et al., "Unsupervised Feature Learning via Non-Parametric Instance Discrimination"
 * (InstDisc, CVPR 2018, section 3.4): features are L2-normalised, the k most cosine-similar
 * training features vote for their class with weight exp(s / T). The defaults k = 200,
 * T = 0.1 are those of the MoCo CIFAR-10 kNN monitor (facebookresearch/moco, colab notebook
 * `knn_predict`); the computation matches solo-learn's `WeightedKNNClassifier`
 * (solo/utils/knn.py, distance "cosine").
 */
import { tf } from "../tf.ts";
import type { Features } from "./features.ts";
import { addCounts, toPercent, type TopKCounts, topkCounts } from "./topk.ts";

/** Options of `weightedKnn`. */
export interface KnnOptions {
  /** Neighbours per query (capped at the training set size). Default 200. */
  k?: number;
  /** Temperature T of the weights exp(s / T). Default 0.1. */
  temperature?: number;
  /** Number of classes (labels are 0..classes-1). */
  classes: number;
  /** Test rows per similarity block (memory: chunk x train.n floats). Default 256. */
  chunk?: number;
}

/**
 * Top-1 and top-5 accuracy (percent) of weighted kNN: each test feature is classified by the
 * weighted votes of its k most similar training features.
 *
 * @example
 * const { top1 } = await weightedKnn(trainFeatures, testFeatures, { classes: 10 });
 */
export async function weightedKnn(
  train: Features,
  test: Features,
  options: KnnOptions,
): Promise<{ top1: number; top5: number }> {
  const { classes } = options;
  const temperature = options.temperature ?? 0.1;
  const k = Math.min(options.k ?? 200, train.n);
  const chunk = options.chunk ?? 256;
  if (train.dim !== test.dim) {
    throw new Error(`kNN: train features have ${train.dim} dims, test features ${test.dim}`);
  }
  if (!(temperature > 0)) throw new Error(`kNN: temperature must be > 0, got ${temperature}`);
  if (train.n === 0 || test.n === 0) throw new Error("kNN: needs at least one train and test row");
  const bank = tf.tidy(() =>
    l2Normalise(tf.tensor2d(train.data, [train.n, train.dim])).transpose()
  );
  const bankLabels = tf.tensor1d(train.labels, "int32");
  let counts: TopKCounts = { top1: 0, top5: 0, n: 0 };
  try {
    for (let off = 0; off < test.n; off += chunk) {
      const rows = Math.min(chunk, test.n - off);
      const { scores, labels } = tf.tidy(() => {
        const q = l2Normalise(
          tf.tensor2d(test.data.subarray(off * test.dim, (off + rows) * test.dim), [
            rows,
            test.dim,
          ]),
        );
        const sims = tf.matMul(q, bank) as tf.Tensor2D; // rows x train.n, cosine similarities
        const top = tf.topk(sims, k, true);
        const neighbourLabels = tf.gather(bankLabels, top.indices.flatten()).reshape([rows, k]);
        const weights = top.values.div(temperature).exp(); // rows x k
        const votes = tf.oneHot(neighbourLabels.toInt(), classes).mul(weights.expandDims(2));
        return {
          scores: votes.sum(1) as tf.Tensor2D,
          labels: tf.tensor1d(test.labels.subarray(off, off + rows), "int32"),
        };
      });
      try {
        counts = addCounts(counts, await topkCounts(scores, labels));
      } finally {
        scores.dispose();
        labels.dispose();
      }
    }
  } finally {
    bank.dispose();
    bankLabels.dispose();
  }
  return toPercent(counts);
}

function l2Normalise(x: tf.Tensor2D): tf.Tensor2D {
  return x.div(x.square().sum(1, true).sqrt().maximum(1e-12));
}
