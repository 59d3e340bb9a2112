/**
 * Reads a normalised dataset folder with whole-file reads: one read per file, no per-image
 * parsing, the label files viewed in place as Int32Array.
 */
import { join } from "node:path";
import { datasetFiles, DatasetMeta } from "./meta.ts";

/** One split of a dataset, in memory. */
export interface DatasetSplit {
  /** Split name (`train`, `test`). */
  name: string;
  /** Number of images. */
  n: number;
  /** [H, W, C] of every image. */
  shape: [number, number, number];
  /** Number of classes of `labels`. */
  classes: number;
  /** N x H x W x C uint8, row-major (NHWC). */
  images: Uint8Array;
  /** N labels in 0..classes-1. */
  labels: Int32Array;
  /** Extra label sets by name (CIFAR-100: `coarse`). */
  labelSets: Record<string, Int32Array>;
}

/** A dataset folder read into memory. */
export interface Dataset {
  meta: DatasetMeta;
  /** The folder it was read from. */
  dir: string;
  /** A split by name; throws for a name the dataset lacks. */
  split(name: string): DatasetSplit;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Reads the dataset folder at `dir` (written by `fetch_dataset`).
 *
 * @example
 * const ds = await readDataset(ctx.inputs.data[0].dir);
 * const train = ds.split("train"); // { n, shape, images, labels, ... }
 */
export async function readDataset(dir: string): Promise<Dataset> {
  const metaPath = join(dir, datasetFiles.meta);
  let text: string;
  try {
    text = await Deno.readTextFile(metaPath);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(`${metaPath} is missing: ${dir} is not a complete dataset folder`);
    }
    throw e;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${metaPath}: not valid JSON (${(e as Error).message})`);
  }
  const parsed = DatasetMeta.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new Error(`${metaPath} is not a valid dataset meta: ${issues.join("; ")}`);
  }
  const meta = parsed.data;
  const [h, w, c] = meta.shape;
  const splits = new Map<string, DatasetSplit>();
  await Promise.all(
    Object.entries(meta.splits).map(async ([name, { n }]) => {
      const images = await readExact(join(dir, datasetFiles.images(name)), n * h * w * c);
      const labels = await readInt32(join(dir, datasetFiles.labels(name)), n, meta.classes);
      const labelSets: Record<string, Int32Array> = {};
      for (const [set, info] of Object.entries(meta.labelSets)) {
        labelSets[set] = await readInt32(
          join(dir, datasetFiles.labelSet(name, set)),
          n,
          info.classes,
        );
      }
      splits.set(name, {
        name,
        n,
        shape: meta.shape,
        classes: meta.classes,
        images,
        labels,
        labelSets,
      });
    }),
  );
  return {
    meta,
    dir,
    split(name: string): DatasetSplit {
      const s = splits.get(name);
      if (!s) {
        throw new Error(
          `dataset ${meta.name} (${dir}) has no split "${name}"; it has ${
            [...splits.keys()].join(", ")
          }`,
        );
      }
      return s;
    },
  };
}

/** One read into a buffer of the size meta.json promises (checked against the file first). */
async function readExact(path: string, bytes: number): Promise<Uint8Array> {
  using file = await Deno.open(path, { read: true });
  const size = (await file.stat()).size;
  if (size !== bytes) {
    throw new Error(`${path} holds ${size} bytes, meta.json says ${bytes}: the folder is damaged`);
  }
  const data = new Uint8Array(bytes);
  let off = 0;
  while (off < bytes) {
    const n = await file.read(data.subarray(off));
    if (n === null) {
      throw new Error(`${path} ended at byte ${off} of ${bytes}: the folder is damaged`);
    }
    off += n;
  }
  return data;
}

async function readInt32(path: string, n: number, classes: number): Promise<Int32Array> {
  const bytes = await readExact(path, 4 * n);
  let labels: Int32Array;
  if (LITTLE_ENDIAN && bytes.byteOffset % 4 === 0) {
    labels = new Int32Array(bytes.buffer, bytes.byteOffset, n);
  } else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    labels = Int32Array.from({ length: n }, (_, i) => view.getInt32(4 * i, true));
  }
  for (let i = 0; i < n; i++) {
    if (labels[i] < 0 || labels[i] >= classes) {
      throw new Error(`${path}: label ${labels[i]} at ${i} is outside 0..${classes - 1}`);
    }
  }
  return labels;
}
