/**
 * The seeded batch loader: a shuffle per epoch that depends only on (seed, epoch), batches as
 * tfjs tensors (float32 NHWC in [0, 1] and int32 labels), and the next batch prepared while
 * the caller works on the current one.
 */
import { setImmediate } from "node:timers";
import { Rng } from "../rng.ts";
import { tf } from "../tf.ts";
import type { DatasetSplit } from "./reader.ts";

/** Options of `createLoader`. */
export interface LoaderOptions {
  /** The split to iterate (from `readDataset(...).split(name)` or `subsetSplit`). */
  data: DatasetSplit;
  batchSize: number;
  /** Seed of the per-epoch shuffles. */
  seed: number;
  /** Shuffle each epoch (default true); false keeps the stored order. */
  shuffle?: boolean;
  /** Drop the last batch when it is smaller than `batchSize` (default false). */
  dropLast?: boolean;
}

/** One batch; the caller disposes both tensors. */
export interface Batch {
  /** B x H x W x C float32 in [0, 1]. */
  images: tf.Tensor4D;
  /** B int32 labels. */
  labels: tf.Tensor1D;
  /** Position of this batch in its epoch (0-based). */
  index: number;
  /** Indices into the split of the images in this batch. */
  indices: Int32Array;
}

/** Iterates a split in seeded batches. */
export interface Loader {
  /** Images in the split. */
  n: number;
  batchSize: number;
  /** Batches per epoch (after `dropLast`). */
  batchesPerEpoch: number;
  /** The order of the split's indices in epoch `e`. */
  order(e: number): Int32Array;
  /** The batches of epoch `e`, each prepared while the previous one is in use. */
  epoch(e: number): AsyncIterable<Batch>;
}

const TO_UNIT = Float32Array.from({ length: 256 }, (_, v) => v / 255);

/** A generator for epoch `e` of seed `seed`: depends on both and on nothing else. */
export function epochRng(seed: number, e: number): Rng {
  if (!Number.isSafeInteger(e) || e < 0) throw new Error(`epoch must be an integer >= 0, got ${e}`);
  const s = new Rng(seed).state();
  // A different transform for the epoch stream, so (seed, epoch) = (a, b) and (b, a) differ.
  const t = new Rng(e).fork().state();
  const mixed: [number, number, number, number] = [
    (s[0] ^ t[0]) >>> 0,
    (s[1] ^ t[1]) >>> 0,
    (s[2] ^ t[2]) >>> 0,
    ((s[3] ^ t[3]) | 1) >>> 0,
  ];
  return Rng.fromState(mixed);
}

/**
 * Creates a seeded loader over a split.
 *
 * @example
 * const loader = createLoader({ data: ds.split("train"), batchSize: 256, seed: 0, dropLast: true });
 * for await (const b of loader.epoch(0)) {
 *   // ... train on b.images, b.labels
 *   b.images.dispose(); b.labels.dispose();
 * }
 */
export function createLoader(options: LoaderOptions): Loader {
  const { data, batchSize, seed } = options;
  const shuffle = options.shuffle ?? true;
  const dropLast = options.dropLast ?? false;
  if (!Number.isInteger(batchSize) || batchSize <= 0) {
    throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
  }
  const n = data.n;
  const [h, w, c] = data.shape;
  const per = h * w * c;
  const batchesPerEpoch = dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);

  const order = (e: number): Int32Array => {
    const idx = Int32Array.from({ length: n }, (_, i) => i);
    return shuffle ? epochRng(seed, e).shuffle(idx) : idx;
  };

  const build = (ord: Int32Array, b: number): Batch => {
    const indices = ord.slice(b * batchSize, Math.min(n, (b + 1) * batchSize));
    const size = indices.length;
    const pixels = new Float32Array(size * per);
    const labels = new Int32Array(size);
    const src = data.images;
    for (let j = 0; j < size; j++) {
      const from = indices[j] * per;
      const to = j * per;
      for (let k = 0; k < per; k++) pixels[to + k] = TO_UNIT[src[from + k]];
      labels[j] = data.labels[indices[j]];
    }
    return {
      images: tf.tensor4d(pixels, [size, h, w, c], "float32"),
      labels: tf.tensor1d(labels, "int32"),
      index: b,
      indices,
    };
  };

  // Builds batch b on a later turn of the event loop, so it overlaps the caller's async work.
  const later = (ord: Int32Array, b: number) =>
    new Promise<Batch>((resolve, reject) =>
      setImmediate(() => {
        try {
          resolve(build(ord, b));
        } catch (e) {
          reject(e);
        }
      })
    );

  async function* epoch(e: number): AsyncGenerator<Batch> {
    const ord = order(e);
    let next: Promise<Batch> | null = batchesPerEpoch > 0 ? later(ord, 0) : null;
    try {
      for (let b = 0; b < batchesPerEpoch; b++) {
        const current: Batch = await next!;
        next = b + 1 < batchesPerEpoch ? later(ord, b + 1) : null;
        yield current;
      }
    } finally {
      // The caller stopped early: free the batch prepared ahead.
      next?.then((batch) => {
        batch.images.dispose();
        batch.labels.dispose();
      }, () => {});
    }
  }

  return { n, batchSize, batchesPerEpoch, order, epoch };
}
