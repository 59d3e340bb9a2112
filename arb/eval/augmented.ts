/**
 * Training features recomputed every step from augmented views (the paper's linear-eval
 * protocol: random crop with 4-pixel padding and horizontal flip), through the frozen
 * encoder in evaluation mode. No gradient reaches the encoder: only the features leave here.
 */
import { createLoader, epochRng } from "../data/loader.ts";
import type { Rng } from "../rng.ts";
import { tf } from "../tf.ts";
import type { FeatureEncoder, ImageSplit } from "./features.ts";
import type { FeatureBatch, TrainSource } from "./linear.ts";

/** Turns a batch of images in [0, 1] into a normalised augmented view, drawing from `rng`. */
export type ViewFn = (images: tf.Tensor4D, rng: Rng) => tf.Tensor4D;

/** Options of `augmentedSource`. */
export interface AugmentedSourceOptions {
  encoder: FeatureEncoder;
  split: ImageSplit & { name: string; classes: number; labelSets: Record<string, Int32Array> };
  /** The augmentation (e.g. `augment(x, recipes.cropFlip, rng, norm)`). */
  view: ViewFn;
  batchSize: number;
  /** Seed of the shuffles and of the augmentation draws. */
  seed: number;
}

/** Seed offset separating the augmentation stream from the shuffle stream. */
const VIEW_STREAM = 0x5eed;

/**
 * A `TrainSource` that shuffles the images each epoch (seeded, as the data loader), augments
 * each batch and runs it through the encoder.
 */
export function augmentedSource(options: AugmentedSourceOptions): TrainSource {
  const { encoder, split, view, batchSize, seed } = options;
  const loader = createLoader({ data: split, batchSize, seed, shuffle: true, dropLast: false });
  return {
    n: split.n,
    dim: encoder.featureDim,
    async *epoch(e: number): AsyncIterable<FeatureBatch> {
      const rng = epochRng(seed + VIEW_STREAM, e);
      for await (const batch of loader.epoch(e)) {
        let features: tf.Tensor2D;
        try {
          features = tf.tidy(() => encoder.apply(view(batch.images, rng), false));
        } catch (err) {
          tf.dispose([batch.images, batch.labels]);
          throw err;
        }
        batch.images.dispose();
        yield { features, labels: batch.labels };
      }
    },
  };
}
