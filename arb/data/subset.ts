/**
 * Seeded subsets of a split: a uniform random subset, or a class-balanced one (the same number
 * of images from every class), both reproducible from their seed on every machine.
 */
import { Rng } from "../rng.ts";
import type { DatasetSplit } from "./reader.ts";
import type { SplitData } from "./writer.ts";

/** How to draw a subset. */
export interface SubsetOptions {
  /** Number of images to keep. */
  n: number;
  /** Seed of the draw. */
  seed: number;
  /**
   * Equal share per class: floor(n / classes) each, and the n mod classes leftover images go
   * to that many classes picked at random by the seed.
   */
  balanced: boolean;
}

/**
 * Indices (ascending) of a seeded subset of `labels`.
 *
 * @example
 * const idx = selectSubset(train.labels, 10, { n: 1000, seed: 0, balanced: true }); // 100 per class
 */
export function selectSubset(labels: Int32Array, classes: number, opts: SubsetOptions): Int32Array {
  const { n, seed, balanced } = opts;
  if (!Number.isInteger(n) || n <= 0) {
    throw new Error(`subset size must be a positive integer, got ${n}`);
  }
  if (n > labels.length) {
    throw new Error(`subset of ${n} asked from a split of ${labels.length} images`);
  }
  const rng = new Rng(seed);
  if (!balanced) {
    const all = Int32Array.from({ length: labels.length }, (_, i) => i);
    return rng.shuffle(all).slice(0, n).sort();
  }
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  labels.forEach((y, i) => byClass[y].push(i));
  const share = Math.floor(n / classes);
  const extra = new Set(
    rng.shuffle(Array.from({ length: classes }, (_, c) => c)).slice(0, n % classes),
  );
  const out: number[] = [];
  for (let c = 0; c < classes; c++) {
    const want = share + (extra.has(c) ? 1 : 0);
    if (byClass[c].length < want) {
      throw new Error(
        `balanced subset of ${n} needs ${want} images of class ${c}, the split has ${
          byClass[c].length
        }`,
      );
    }
    out.push(...rng.shuffle(byClass[c]).slice(0, want));
  }
  return Int32Array.from(out).sort();
}

/** The images and labels at `indices`, in that order, as a new split. */
export function takeSplit(data: SplitData, indices: Int32Array): SplitData {
  const per = data.images.length / Math.max(1, data.labels.length);
  const images = new Uint8Array(indices.length * per);
  indices.forEach((src, i) =>
    images.set(data.images.subarray(src * per, (src + 1) * per), i * per)
  );
  const pick = (a: Int32Array) => Int32Array.from(indices, (i) => a[i]);
  const sets = data.sets
    ? Object.fromEntries(Object.entries(data.sets).map(([k, v]) => [k, pick(v)]))
    : undefined;
  return { images, labels: pick(data.labels), sets };
}

/** Per-class image counts of `labels`. */
export function classCounts(labels: Int32Array, classes: number): number[] {
  const counts = new Array(classes).fill(0);
  for (const y of labels) counts[y]++;
  return counts;
}

/**
 * A seeded (optionally class-balanced) subset of a split read by `readDataset`, for a loader.
 *
 * @example
 * const small = subsetSplit(ds.split("train"), { n: 5000, seed: 1, balanced: true });
 * const loader = createLoader({ data: small, batchSize: 256, seed: 0 });
 */
export function subsetSplit(split: DatasetSplit, opts: SubsetOptions): DatasetSplit {
  const idx = selectSubset(split.labels, split.classes, opts);
  const taken = takeSplit(
    { images: split.images, labels: split.labels, sets: split.labelSets },
    idx,
  );
  return {
    ...split,
    n: idx.length,
    images: taken.images,
    labels: taken.labels,
    labelSets: taken.sets ?? {},
  };
}
