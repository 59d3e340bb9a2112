/**
 * Readers of the CIFAR-10 and CIFAR-100 binary versions (Krizhevsky 2009;
 * https://www.cs.toronto.edu/~kriz/cifar.html, "Binary version"). A record is its label
 * byte(s) then 3072 pixel bytes: the 1024 red values of the 32x32 image in row-major order,
 * then the green, then the blue. CIFAR-10 records have one label byte; CIFAR-100 records two,
 * the coarse label then the fine label.
 */
import { readTarGz } from "./tar.ts";
import type { SplitData } from "./writer.ts";

const SIDE = 32;
const PIXELS = SIDE * SIDE;
const IMAGE_BYTES = 3 * PIXELS;

/** Images (N x 32 x 32 x 3, NHWC) and the label columns of a CIFAR binary file. */
export interface CifarRecords {
  n: number;
  images: Uint8Array;
  /** One array per label byte, in record order (CIFAR-100: [coarse, fine]). */
  labels: Int32Array[];
}

/**
 * Parses concatenated CIFAR records, converting each image from planar (CHW) to NHWC.
 * `label` names the data in errors.
 */
export function parseCifarRecords(
  bytes: Uint8Array,
  labelBytes: 1 | 2,
  label: string,
): CifarRecords {
  const record = labelBytes + IMAGE_BYTES;
  if (bytes.length % record !== 0) {
    throw new Error(
      `${label}: ${bytes.length} bytes is not a whole number of ${record}-byte CIFAR records`,
    );
  }
  const n = bytes.length / record;
  const images = new Uint8Array(n * IMAGE_BYTES);
  const labels = Array.from({ length: labelBytes }, () => new Int32Array(n));
  for (let i = 0; i < n; i++) {
    const base = i * record;
    for (let k = 0; k < labelBytes; k++) labels[k][i] = bytes[base + k];
    const src = base + labelBytes;
    const dst = i * IMAGE_BYTES;
    for (let p = 0; p < PIXELS; p++) {
      images[dst + 3 * p] = bytes[src + p];
      images[dst + 3 * p + 1] = bytes[src + PIXELS + p];
      images[dst + 3 * p + 2] = bytes[src + 2 * PIXELS + p];
    }
  }
  return { n, images, labels };
}

/** A CIFAR archive read into splits, with class names. */
export interface CifarData {
  classNames: string[];
  /** CIFAR-100 only: the 20 superclass names. */
  coarseNames?: string[];
  splits: { train: SplitData; test: SplitData };
}

/** Reads `cifar-10-binary.tar.gz`: five train batches, the test batch and `batches.meta.txt`. */
export async function readCifar10(
  archive: string,
  onProgress?: (bytes: number) => void,
): Promise<CifarData> {
  const dir = "cifar-10-batches-bin/";
  const trainNames = [1, 2, 3, 4, 5].map((i) => `${dir}data_batch_${i}.bin`);
  const needed = [...trainNames, `${dir}test_batch.bin`, `${dir}batches.meta.txt`];
  const files = await readNeeded(archive, needed, onProgress);
  const classNames = nameList(files.get(`${dir}batches.meta.txt`)!, archive, 10);
  const train = concatRecords(
    trainNames.map((n) => parseCifarRecords(files.get(n)!, 1, `${archive}:${n}`)),
  );
  const test = parseCifarRecords(files.get(`${dir}test_batch.bin`)!, 1, `${archive}:test_batch`);
  return {
    classNames,
    splits: {
      train: checked({ images: train.images, labels: train.labels[0] }, 10, archive, "train"),
      test: checked({ images: test.images, labels: test.labels[0] }, 10, archive, "test"),
    },
  };
}

/** Reads `cifar-100-binary.tar.gz`: fine labels as the main labels, coarse ones as `coarse`. */
export async function readCifar100(
  archive: string,
  onProgress?: (bytes: number) => void,
): Promise<CifarData> {
  const dir = "cifar-100-binary/";
  const needed = ["train.bin", "test.bin", "fine_label_names.txt", "coarse_label_names.txt"]
    .map((n) => dir + n);
  const files = await readNeeded(archive, needed, onProgress);
  const classNames = nameList(files.get(`${dir}fine_label_names.txt`)!, archive, 100);
  const coarseNames = nameList(files.get(`${dir}coarse_label_names.txt`)!, archive, 20);
  const split = (name: string) => {
    const r = parseCifarRecords(files.get(`${dir}${name}.bin`)!, 2, `${archive}:${name}.bin`);
    const data = { images: r.images, labels: r.labels[1], sets: { coarse: r.labels[0] } };
    checkLabels(r.labels[0], 20, archive, `${name} coarse`);
    return checked(data, 100, archive, name);
  };
  return { classNames, coarseNames, splits: { train: split("train"), test: split("test") } };
}

async function readNeeded(
  archive: string,
  needed: string[],
  onProgress?: (bytes: number) => void,
): Promise<Map<string, Uint8Array>> {
  const wanted = new Set(needed);
  const files = await readTarGz(archive, (n) => wanted.has(n.replace(/^\.\//, "")), onProgress);
  const byName = new Map([...files].map(([k, v]) => [k.replace(/^\.\//, ""), v]));
  const missing = needed.filter((n) => !byName.has(n));
  if (missing.length) {
    throw new Error(`${archive}: the archive lacks ${missing.join(", ")}; is it the right file?`);
  }
  return byName;
}

function nameList(bytes: Uint8Array, archive: string, expected: number): string[] {
  const names = new TextDecoder().decode(bytes).split(/\r?\n/).map((s) => s.trim()).filter(
    Boolean,
  );
  if (names.length !== expected) {
    throw new Error(`${archive}: expected ${expected} class names, found ${names.length}`);
  }
  return names;
}

function concatRecords(parts: CifarRecords[]): CifarRecords {
  const n = parts.reduce((s, p) => s + p.n, 0);
  const images = new Uint8Array(n * IMAGE_BYTES);
  const labels = parts[0].labels.map(() => new Int32Array(n));
  let at = 0;
  for (const p of parts) {
    images.set(p.images, at * IMAGE_BYTES);
    p.labels.forEach((l, k) => labels[k].set(l, at));
    at += p.n;
  }
  return { n, images, labels };
}

function checked(data: SplitData, classes: number, archive: string, split: string): SplitData {
  checkLabels(data.labels, classes, archive, split);
  return data;
}

function checkLabels(labels: Int32Array, classes: number, archive: string, what: string): void {
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] >= classes) {
      throw new Error(
        `${archive}: ${what} record ${i} has label ${labels[i]}, outside 0..${classes - 1}`,
      );
    }
  }
}
