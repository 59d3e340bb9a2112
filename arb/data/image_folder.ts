/**
 * The image-folder reader (the ImageNet-100 layout): `<root>/train/<class>/<image>` and
 * `<root>/val/<class>/<image>` (or `test/`). JPEG and PNG are decoded in pure JavaScript
 * (`jpeg-js`, `pngjs`: no native code, nothing fetched at install time), converted to RGB,
 * resized once (shorter side to `size`, center crop) and streamed into the dataset folder.
 */
// @ts-types="@types/pngjs"
import { PNG } from "pngjs";
import jpeg from "jpeg-js";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { join, relative } from "node:path";
import { hashBytes } from "./checksum.ts";
import { resizeCenterCrop } from "./resize.ts";
import { selectSubset, type SubsetOptions } from "./subset.ts";
import type { DatasetWriter } from "./writer.ts";

/** One image of the folder, with its class index. */
interface Item {
  path: string;
  label: number;
}

/** A decoded RGB image. */
export interface RgbImage {
  width: number;
  height: number;
  /** H x W x 3 uint8. */
  data: Uint8Array;
}

const IMAGE_EXT = /\.(jpe?g|png)$/i;

/** Decodes JPEG or PNG bytes (by their signature) to RGB; alpha is dropped. */
export function decodeImage(bytes: Uint8Array, label: string): RgbImage {
  try {
    if (bytes[0] === 0xff && bytes[1] === 0xd8) {
      const img = jpeg.decode(bytes, {
        useTArray: true,
        formatAsRGBA: false,
        maxMemoryUsageInMB: 2048,
      });
      return { width: img.width, height: img.height, data: img.data };
    }
    if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) {
      // pngjs reads through Node's Buffer API (readUInt32BE and friends).
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      const rgb = new Uint8Array(png.width * png.height * 3);
      for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
        rgb[i] = png.data[j];
        rgb[i + 1] = png.data[j + 1];
        rgb[i + 2] = png.data[j + 2];
      }
      return { width: png.width, height: png.height, data: rgb };
    }
  } catch (e) {
    throw new Error(`${label}: cannot decode image (${(e as Error).message})`);
  }
  throw new Error(`${label}: neither a JPEG nor a PNG file`);
}

async function sortedEntries(dir: string, want: (e: Deno.DirEntry) => boolean): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (!e.name.startsWith(".") && want(e)) names.push(e.name);
  }
  return names.sort();
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then((s) => s.isDirectory, () => false);
}

/** Class names (sorted train sub-folders) and the images of each split. */
export async function scanImageFolder(
  root: string,
): Promise<{ classNames: string[]; splits: { train: Item[]; test: Item[] } }> {
  const trainDir = join(root, "train");
  if (!(await exists(trainDir))) {
    throw new Error(
      `${root}: expected a train/ folder of class sub-folders (the ImageNet-100 layout)`,
    );
  }
  const testName = (await exists(join(root, "val")))
    ? "val"
    : (await exists(join(root, "test")))
    ? "test"
    : null;
  if (!testName) throw new Error(`${root}: expected a val/ or test/ folder next to train/`);
  const classNames = await sortedEntries(trainDir, (e) => e.isDirectory);
  if (classNames.length === 0) throw new Error(`${trainDir} has no class sub-folders`);
  const index = new Map(classNames.map((c, i) => [c, i]));
  const list = async (dir: string): Promise<Item[]> => {
    const items: Item[] = [];
    for (const cls of await sortedEntries(dir, (e) => e.isDirectory)) {
      const label = index.get(cls);
      if (label === undefined) {
        throw new Error(`${join(dir, cls)}: class "${cls}" is not among train/'s classes`);
      }
      for (
        const f of await sortedEntries(join(dir, cls), (e) => e.isFile && IMAGE_EXT.test(e.name))
      ) {
        items.push({ path: join(dir, cls, f), label });
      }
    }
    if (items.length === 0) throw new Error(`${dir} holds no .jpg/.jpeg/.png images`);
    return items;
  };
  const test = await list(join(root, testName));
  return { classNames, splits: { train: await list(trainDir), test } };
}

/** What `writeImageFolder` read. */
export interface ImageFolderResult {
  classNames: string[];
  /** Images read (both splits). */
  count: number;
  /** sha256 of the manifest: one `<sha256>  <path relative to root>` line per image, in order. */
  manifestSha256: string;
}

/**
 * Decodes, resizes and writes both splits of an image folder into `writer` (train, then test).
 */
export async function writeImageFolder(
  root: string,
  size: number,
  writer: DatasetWriter,
  options: {
    /** Keep only a seeded subset of train (chosen before decoding). */
    subset?: SubsetOptions;
    onProgress?: (done: number, total: number) => void;
    signal?: AbortSignal;
  } = {},
): Promise<ImageFolderResult> {
  const { onProgress, signal } = options;
  const { classNames, splits } = await scanImageFolder(root);
  if (options.subset) {
    const labels = Int32Array.from(splits.train, (item) => item.label);
    const keep = selectSubset(labels, classNames.length, options.subset);
    splits.train = Array.from(keep, (i) => splits.train[i]);
  }
  const total = splits.train.length + splits.test.length;
  const manifest = createHash("sha256");
  let done = 0;
  for (const [name, items] of [["train", splits.train], ["test", splits.test]] as const) {
    const out = await writer.openSplit(name);
    for (const item of items) {
      signal?.throwIfAborted();
      const bytes = await Deno.readFile(item.path);
      manifest.update(`${hashBytes(bytes)}  ${relative(root, item.path)}\n`);
      const img = decodeImage(bytes, item.path);
      await out.add(resizeCenterCrop(img.data, img.width, img.height, 3, size), item.label);
      onProgress?.(++done, total);
    }
    await out.close();
  }
  return { classNames, count: total, manifestSha256: manifest.digest("hex") };
}
