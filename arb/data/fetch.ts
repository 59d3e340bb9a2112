/**
 * `fetchDataset`: from validated `fetch_dataset` parameters to a normalised dataset folder.
 * Gets every file verified (local copies, the shared download cache, then downloads), reads
 * the format, keeps the requested train subset and writes the folder atomically.
 */
import { gunzipSync } from "node:zlib";
import { join } from "node:path";
import { type Acquired, acquireFile, isUrl, localPath, type Source } from "./acquire.ts";
import {
  catalog,
  type CatalogEntry,
  type CatalogFile,
  DEBIAN_FASHION_MNIST,
  FASHION_MNIST_CLASSES,
} from "./catalog.ts";
import { hashBytes } from "./checksum.ts";
import { readCifar10, readCifar100 } from "./cifar.ts";
import { type DownloadOptions, formatBytes } from "./download.ts";
import { idxSplit, parseIdx } from "./idx.ts";
import { writeImageFolder } from "./image_folder.ts";
import type { DatasetMeta, DatasetSource, SubsetInfo } from "./meta.ts";
import type { FetchParams } from "./params.ts";
import { selectSubset, takeSplit } from "./subset.ts";
import { DatasetWriter, type MetaBase, type SplitData } from "./writer.ts";

/** Progress of a long step (same shape as the pipeline's `Progress`). */
export interface FetchProgress {
  step: number;
  total?: number;
  unit?: string;
  message?: string;
}

/** Where `fetchDataset` writes and how it reports. */
export interface FetchContext {
  /** Root of the cache; downloads are kept in `<cacheDir>/downloads/` for every experiment. */
  cacheDir: string;
  /** The dataset folder to create (absent or empty). */
  outDir: string;
  progress?: (p: FetchProgress) => void;
  log?: (message: string) => void;
  signal?: AbortSignal;
  /** Download knobs (timeouts, retries, backoff). */
  download?: Pick<DownloadOptions, "timeoutMs" | "retries" | "backoffMs">;
}

/**
 * Fetches, verifies and writes the dataset `params` describe into `ctx.outDir`.
 *
 * @example
 * const meta = await fetchDataset(FetchParams.parse({ dataset: "fashion-mnist" }), {
 *   cacheDir: ".cache", outDir: "/tmp/fmnist",
 * });
 */
export async function fetchDataset(params: FetchParams, ctx: FetchContext): Promise<DatasetMeta> {
  const subset: SubsetInfo | null = params.subset ? { ...params.subset } : null;
  if (params.dataset === "image-folder") return await fetchImageFolder(params, subset, ctx);

  const entry = catalog[params.dataset];
  if (
    params.dataset === "fashion-mnist" && !params.sources && !(await isDir(DEBIAN_FASHION_MNIST))
  ) {
    ctx.log?.(
      `Debian's Fashion-MNIST is not installed at ${DEBIAN_FASHION_MNIST} ` +
        `(apt install dataset-fashion-mnist); trying the canonical URLs`,
    );
  }
  const acquired: Acquired[] = [];
  for (const file of entry.files) {
    const sources = await sourcesFor(entry, file, params);
    acquired.push(await acquireFile(file.file, sources, downloadOptions(ctx, file.file)));
  }
  const sources: DatasetSource[] = acquired.map((a) => ({
    url: a.source,
    sha256: a.sha256,
    file: a.file,
    ...(a.md5 ? { md5: a.md5 } : {}),
    ...(a.contentSha256 ? { contentSha256: a.contentSha256 } : {}),
  }));

  let shape: [number, number, number];
  let classNames: string[];
  let labelSets: MetaBase["labelSets"] = {};
  let splits: { train: SplitData; test: SplitData };
  if (params.dataset === "fashion-mnist") {
    ({ shape, splits } = readFashionMnist(acquired, entry.files));
    classNames = FASHION_MNIST_CLASSES;
  } else {
    const archive = acquired[0].path;
    const onProgress = throttled(ctx, `read ${acquired[0].file}`);
    const read = params.dataset === "cifar10" ? readCifar10 : readCifar100;
    const data = await read(archive, onProgress).catch((e) => {
      throw new Error(`${(e as Error).message} [archive from ${acquired[0].source}]`, { cause: e });
    });
    shape = [32, 32, 3];
    classNames = data.classNames;
    splits = data.splits;
    if (data.coarseNames) {
      labelSets = { coarse: { classes: data.coarseNames.length, classNames: data.coarseNames } };
    }
  }
  for (const name of ["train", "test"] as const) {
    const n = subset?.[name];
    if (!subset || n === undefined) continue;
    const idx = selectSubset(splits[name].labels, classNames.length, {
      n,
      seed: subset.seed,
      balanced: subset.balanced,
    });
    splits[name] = takeSplit(splits[name], idx);
  }
  const writer = await DatasetWriter.create(ctx.outDir, shape);
  try {
    await writer.writeSplit("train", splits.train);
    await writer.writeSplit("test", splits.test);
  } catch (e) {
    await writer.abort();
    throw e;
  }
  const meta = await writer.commit({
    name: params.dataset,
    shape,
    classes: classNames.length,
    classNames,
    labelSets,
    sources,
    subset,
  });
  ctx.log?.(
    `${meta.name}: ${meta.splits.train.n} train / ${meta.splits.test.n} test images of ` +
      `${shape.join("x")}, ${meta.classes} classes`,
  );
  return meta;
}

async function fetchImageFolder(
  params: FetchParams,
  subset: SubsetInfo | null,
  ctx: FetchContext,
): Promise<DatasetMeta> {
  const root = params.root!, size = params.size!;
  const writer = await DatasetWriter.create(ctx.outDir, [size, size, 3]);
  let result;
  try {
    result = await writeImageFolder(root, size, writer, {
      subset: subset?.train !== undefined
        ? { n: subset.train, seed: subset.seed, balanced: subset.balanced }
        : undefined,
      onProgress: (done, total) => {
        if (done === total || done % 256 === 0) {
          ctx.progress?.({ step: done, total, unit: "img", message: `decode ${root}` });
        }
      },
      signal: ctx.signal,
    });
  } catch (e) {
    await writer.abort();
    throw e;
  }
  return await writer.commit({
    name: "image-folder",
    shape: [size, size, 3],
    classes: result.classNames.length,
    classNames: result.classNames,
    labelSets: {},
    sources: [{
      url: root,
      sha256: result.manifestSha256,
      file: `manifest of ${result.count} images`,
    }],
    subset,
  });
}

/** Reads the four verified Fashion-MNIST files, checking the gunzipped content hashes. */
function readFashionMnist(
  acquired: Acquired[],
  files: CatalogFile[],
): { shape: [number, number, number]; splits: { train: SplitData; test: SplitData } } {
  const arrays = acquired.map((a, i) => {
    const content = a.content ?? new Uint8Array(gunzipSync(Deno.readFileSync(a.path)));
    const want = files[i].contentSha256;
    const got = hashBytes(content);
    if (want && got !== want) {
      throw new Error(
        `${a.path} (from ${a.source}): gunzipped-content sha256 mismatch: expected ${want}, got ${got}`,
      );
    }
    return parseIdx(content, `${a.source}`);
  });
  const train = idxSplit(arrays[0], arrays[1], 10, "fashion-mnist train");
  const test = idxSplit(arrays[2], arrays[3], 10, "fashion-mnist test");
  return {
    shape: train.shape,
    splits: {
      train: { images: train.images, labels: train.labels },
      test: { images: test.images, labels: test.labels },
    },
  };
}

/** The sources to try for one file: the canonical ones, or the user's `sources`. */
async function sourcesFor(
  entry: CatalogEntry,
  file: CatalogFile,
  params: FetchParams,
): Promise<Source[]> {
  const content = file.contentSha256 ? { contentSha256: file.contentSha256 } : {};
  if (!params.sources) {
    return entry.bases.map((b) => ({
      location: b.base + file.file,
      expect: b.canonicalBytes ? { ...file.canonical, ...content } : content,
    }));
  }
  const expect = params.sha256 ? { sha256: params.sha256 } : file.contentSha256
    ? content // a mirror may recompress: its content is what must match
    : file.canonical; // a mirror of a single archive must serve the published bytes
  const out: Source[] = [];
  for (const s of params.sources) {
    out.push({ location: await resolveLocation(s, file.file, entry.files.length), expect });
  }
  return out;
}

async function resolveLocation(source: string, file: string, files: number): Promise<string> {
  if (source.endsWith("/")) return source + file;
  if (!isUrl(source) && (await isDir(localPath(source)))) return join(localPath(source), file);
  if (files > 1) {
    throw new Error(
      `sources entry "${source}": this dataset has ${files} files; give a folder or a URL ` +
        `ending in "/" that holds them under their names`,
    );
  }
  return source;
}

async function isDir(path: string): Promise<boolean> {
  return await Deno.stat(path).then((s) => s.isDirectory, () => false);
}

function downloadOptions(ctx: FetchContext, file: string) {
  const progress = throttled(ctx, `download ${file}`);
  return {
    cacheDir: ctx.cacheDir,
    ...ctx.download,
    signal: ctx.signal,
    log: ctx.log,
    onProgress: (bytes: number, total: number | undefined) => progress(bytes, total),
  };
}

/** A byte-progress callback that reports in MB at most every half second (and at the end). */
function throttled(ctx: FetchContext, message: string) {
  let last = 0;
  return (bytes: number, total?: number) => {
    const now = performance.now();
    if (!ctx.progress || (now - last < 500 && bytes !== total)) return;
    last = now;
    ctx.progress({
      step: Math.round(bytes / 1e5) / 10,
      total: total === undefined ? undefined : Math.round(total / 1e5) / 10,
      unit: "MB",
      message: total === undefined ? `${message} (${formatBytes(bytes)})` : message,
    });
  };
}
