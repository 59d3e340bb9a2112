/**
 * Writes a normalised dataset folder (`docs/contracts.md`, "Dataset folder") atomically:
 * everything goes into a temporary sibling folder that is renamed into place only once
 * `meta.json` is written, so a crash never leaves a folder that looks complete. The train
 * split's channel mean and std are computed from the bytes as they are written.
 */
import { dirname, join } from "node:path";
import { datasetFiles, DatasetMeta } from "./meta.ts";

/** One split in memory: N x H x W x C uint8 images, N labels, extra label sets. */
export interface SplitData {
  images: Uint8Array;
  labels: Int32Array;
  /** Extra label sets by name (CIFAR-100: `coarse`). */
  sets?: Record<string, Int32Array>;
}

/** What the writer needs besides the splits; it adds `format`, `splits`, `mean` and `std`. */
export type MetaBase = Omit<DatasetMeta, "format" | "splits" | "mean" | "std">;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Little-endian bytes of an int32 array (a view when the host is little-endian). */
export function int32ToLE(a: Int32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const out = new Uint8Array(a.length * 4);
  const view = new DataView(out.buffer);
  a.forEach((v, i) => view.setInt32(4 * i, v, true));
  return out;
}

/** Per-channel histogram of uint8 pixels, giving exact mean and std in [0, 1] units. */
export class ChannelStats {
  #hist: Float64Array;
  constructor(readonly channels: number) {
    this.#hist = new Float64Array(channels * 256);
  }

  /** Adds NHWC pixels (any whole number of pixels). */
  add(pixels: Uint8Array): void {
    const c = this.channels, h = this.#hist;
    if (c === 1) { for (let i = 0; i < pixels.length; i++) h[pixels[i]]++; }
    else for (let i = 0; i < pixels.length; i++) h[(i % c) * 256 + pixels[i]]++;
  }

  /** Population mean and std per channel, in [0, 1] (pixel / 255). */
  result(): { mean: number[]; std: number[] } {
    const mean: number[] = [], std: number[] = [];
    for (let ch = 0; ch < this.channels; ch++) {
      let n = 0, s = 0;
      for (let v = 0; v < 256; v++) {
        n += this.#hist[ch * 256 + v];
        s += v * this.#hist[ch * 256 + v];
      }
      const m = n ? s / n : 0;
      let ss = 0;
      for (let v = 0; v < 256; v++) ss += this.#hist[ch * 256 + v] * (v - m) ** 2;
      mean.push(m / 255);
      std.push(n ? Math.sqrt(ss / n) / 255 : 0);
    }
    return { mean, std };
  }
}

/** Streams one split's images into the folder, image by image. */
export interface SplitStream {
  /** Appends one H x W x C image with its label and extra labels. */
  add(image: Uint8Array, label: number, sets?: Record<string, number>): Promise<void>;
  /** Finishes the split's files. */
  close(): Promise<void>;
}

/**
 * Builds a dataset folder in a temporary sibling of `dir`; `commit()` moves it into place.
 *
 * @example
 * const w = await DatasetWriter.create(outDir, [32, 32, 3]);
 * await w.writeSplit("train", train);
 * await w.writeSplit("test", test);
 * const meta = await w.commit({ name: "cifar10", shape: [32, 32, 3], ... });
 */
export class DatasetWriter {
  #counts = new Map<string, number>();
  #stats: ChannelStats;
  #pixelsPerImage: number;

  private constructor(readonly dir: string, readonly tmp: string, readonly shape: number[]) {
    this.#stats = new ChannelStats(shape[2]);
    this.#pixelsPerImage = shape[0] * shape[1] * shape[2];
  }

  /** Starts a folder for images of `shape` ([H, W, C]) that will end up at `dir`. */
  static async create(dir: string, shape: [number, number, number]): Promise<DatasetWriter> {
    await assertEmptyOrAbsent(dir);
    await Deno.mkdir(dirname(dir), { recursive: true });
    const tmp = `${dir}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
    await Deno.mkdir(tmp);
    return new DatasetWriter(dir, tmp, shape);
  }

  /** Writes a whole split held in memory. */
  async writeSplit(name: string, data: SplitData): Promise<void> {
    const n = data.labels.length;
    if (data.images.length !== n * this.#pixelsPerImage) {
      throw new Error(
        `split ${name}: ${data.images.length} image bytes for ${n} labels of shape ${this.shape}`,
      );
    }
    await Deno.writeFile(join(this.tmp, datasetFiles.images(name)), data.images);
    await Deno.writeFile(join(this.tmp, datasetFiles.labels(name)), int32ToLE(data.labels));
    for (const [set, labels] of Object.entries(data.sets ?? {})) {
      if (labels.length !== n) throw new Error(`split ${name}: label set ${set} has wrong length`);
      await Deno.writeFile(join(this.tmp, datasetFiles.labelSet(name, set)), int32ToLE(labels));
    }
    if (name === "train") this.#stats.add(data.images);
    this.#counts.set(name, n);
  }

  /** Opens a split to be written image by image (for decoders that produce one at a time). */
  async openSplit(name: string, setNames: string[] = []): Promise<SplitStream> {
    const file = await Deno.open(join(this.tmp, datasetFiles.images(name)), {
      write: true,
      createNew: true,
    });
    const labels: number[] = [];
    const sets = Object.fromEntries(setNames.map((s) => [s, [] as number[]]));
    const buffer = new Uint8Array(Math.max(this.#pixelsPerImage, 1 << 22));
    let used = 0;
    const flush = async () => {
      let off = 0;
      while (off < used) off += await file.write(buffer.subarray(off, used));
      used = 0;
    };
    return {
      add: async (image, label, extra) => {
        if (image.length !== this.#pixelsPerImage) {
          throw new Error(`split ${name}: image of ${image.length} bytes, expected ${this.shape}`);
        }
        if (used + image.length > buffer.length) await flush();
        buffer.set(image, used);
        used += image.length;
        if (name === "train") this.#stats.add(image);
        labels.push(label);
        for (const s of setNames) sets[s].push(extra?.[s] ?? -1);
      },
      close: async () => {
        await flush();
        file.close();
        await Deno.writeFile(
          join(this.tmp, datasetFiles.labels(name)),
          int32ToLE(Int32Array.from(labels)),
        );
        for (const s of setNames) {
          await Deno.writeFile(
            join(this.tmp, datasetFiles.labelSet(name, s)),
            int32ToLE(Int32Array.from(sets[s])),
          );
        }
        this.#counts.set(name, labels.length);
      },
    };
  }

  /** Writes `meta.json` and renames the folder into place; returns the meta written. */
  async commit(base: MetaBase): Promise<DatasetMeta> {
    try {
      const { mean, std } = this.#stats.result();
      const meta = DatasetMeta.parse({
        format: 1,
        ...base,
        splits: Object.fromEntries([...this.#counts].map(([k, n]) => [k, { n }])),
        mean,
        std,
      });
      await Deno.writeTextFile(
        join(this.tmp, datasetFiles.meta),
        JSON.stringify(meta, null, 2) + "\n",
      );
      await assertEmptyOrAbsent(this.dir);
      try {
        await Deno.rename(this.tmp, this.dir); // replaces an empty folder on POSIX
      } catch {
        await Deno.remove(this.dir).catch(() => {});
        await Deno.rename(this.tmp, this.dir);
      }
      return meta;
    } catch (e) {
      await this.abort();
      throw e;
    }
  }

  /** Deletes the temporary folder (after a failure). */
  async abort(): Promise<void> {
    await Deno.remove(this.tmp, { recursive: true }).catch(() => {});
  }
}

async function assertEmptyOrAbsent(dir: string): Promise<void> {
  try {
    for await (const entry of Deno.readDir(dir)) {
      throw new Error(
        `${dir} already holds files (${entry.name}, ...); a dataset is written only into an ` +
          `empty or absent folder`,
      );
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
}
