/**
 * Frozen-feature extraction: a whole split through the encoder in evaluation mode (BatchNorm
 * uses its running statistics), in batches, into one host array; and a plain on-disk format
 * for caching the result in a stage output.
 */
import { writeFileAtomic } from "../atomic.ts";
import { join } from "node:path";
import { tf } from "../tf.ts";

/** Features of one split: row i of `data` (`dim` floats) belongs to label `labels[i]`. */
export interface Features {
  n: number;
  dim: number;
  data: Float32Array;
  labels: Int32Array;
}

/** What feature extraction needs of an encoder (the `Encoder` of `arb/models` fits). */
export interface FeatureEncoder {
  featureDim: number;
  apply(x: tf.Tensor4D, training: boolean): tf.Tensor2D;
}

/** What feature extraction needs of a dataset split (the `DatasetSplit` of `arb/data` fits). */
export interface ImageSplit {
  n: number;
  shape: [number, number, number];
  images: Uint8Array;
  labels: Int32Array;
}

/** Per-channel normalisation applied to images in [0, 1] before the encoder. */
export interface Normalisation {
  mean: number[];
  std: number[];
}

/** Options of `extractFeatures`. */
export interface ExtractOptions {
  norm: Normalisation;
  /** Images per forward pass (default 256). */
  batchSize?: number;
  signal?: AbortSignal;
  /** Called after each batch with the number of images done. */
  onBatch?: (done: number, total: number) => void;
}

/**
 * Runs every image of `split` through `encoder` in evaluation mode and returns the features,
 * in the split's order.
 *
 * @example
 * const f = await extractFeatures(encoder, ds.split("test"), { norm: ds.meta });
 */
export async function extractFeatures(
  encoder: FeatureEncoder,
  split: ImageSplit,
  options: ExtractOptions,
): Promise<Features> {
  const batchSize = options.batchSize ?? 256;
  const [h, w, c] = split.shape;
  const per = h * w * c;
  const dim = encoder.featureDim;
  const data = new Float32Array(split.n * dim);
  const mean = tf.tensor1d(options.norm.mean);
  const std = tf.tensor1d(options.norm.std);
  try {
    for (let off = 0; off < split.n; off += batchSize) {
      options.signal?.throwIfAborted();
      const rows = Math.min(batchSize, split.n - off);
      const pixels = split.images.subarray(off * per, (off + rows) * per);
      const out = tf.tidy(() => {
        const x = tf.tensor4d(pixels, [rows, h, w, c], "int32").toFloat().div(255).sub(mean).div(
          std,
        ) as tf.Tensor4D;
        return encoder.apply(x, false);
      });
      if (out.shape[0] !== rows || out.shape[1] !== dim) {
        out.dispose();
        throw new Error(
          `encoder returned ${out.shape} for ${rows} images, expected [${rows}, ${dim}]`,
        );
      }
      data.set(await out.data() as Float32Array, off * dim);
      out.dispose();
      options.onBatch?.(off + rows, split.n);
    }
  } finally {
    mean.dispose();
    std.dispose();
  }
  return { n: split.n, dim, data, labels: split.labels.slice() };
}

/** Rows of a features file set: `<name>.features.f32` (n x dim float32 LE) + `<name>.labels.i32`. */
export const featureFiles = {
  data: (name: string) => `${name}.features.f32`,
  labels: (name: string) => `${name}.labels.i32`,
  meta: (name: string) => `${name}.features.json`,
};

/** Writes features under `dir` as `<name>.*` (each file atomically). */
export async function saveFeatures(dir: string, name: string, f: Features): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const write = (file: string, bytes: Uint8Array) => writeFileAtomic(join(dir, file), bytes);
  await write(featureFiles.data(name), littleEndianBytes(f.data));
  await write(featureFiles.labels(name), littleEndianBytes(f.labels));
  // The meta file is written last: its presence means the pair above is complete.
  await write(
    featureFiles.meta(name),
    new TextEncoder().encode(JSON.stringify({ format: 1, n: f.n, dim: f.dim }) + "\n"),
  );
}

/** Reads features written by `saveFeatures`, or null when they are absent. */
export async function loadFeatures(dir: string, name: string): Promise<Features | null> {
  let meta: { n: number; dim: number };
  const metaPath = join(dir, featureFiles.meta(name));
  try {
    meta = JSON.parse(await Deno.readTextFile(metaPath));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new Error(`${metaPath}: ${(e as Error).message}`);
  }
  const raw = await Deno.readFile(join(dir, featureFiles.data(name)));
  const lab = await Deno.readFile(join(dir, featureFiles.labels(name)));
  if (raw.length !== meta.n * meta.dim * 4 || lab.length !== meta.n * 4) {
    throw new Error(
      `${dir}/${name}.*: sizes ${raw.length} / ${lab.length} bytes do not match n=${meta.n}, ` +
        `dim=${meta.dim}; delete them to recompute`,
    );
  }
  return {
    n: meta.n,
    dim: meta.dim,
    data: new Float32Array(fromLittleEndian(raw).buffer),
    labels: new Int32Array(fromLittleEndian(lab).buffer),
  };
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function littleEndianBytes(a: Float32Array | Int32Array): Uint8Array {
  const bytes = new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
  return LITTLE_ENDIAN ? bytes : swap4(bytes);
}

function fromLittleEndian(bytes: Uint8Array): Uint8Array {
  const copy = bytes.slice(); // an owned, aligned buffer
  return LITTLE_ENDIAN ? copy : swap4(copy);
}

function swap4(b: Uint8Array): Uint8Array {
  for (let i = 0; i < b.length; i += 4) {
    [b[i], b[i + 1], b[i + 2], b[i + 3]] = [b[i + 3], b[i + 2], b[i + 1], b[i]];
  }
  return b;
}
