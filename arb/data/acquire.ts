/**
 * Gets one verified file from a list of sources (URLs or local paths), through a download
 * cache keyed by checksum that every experiment shares:
 *
 * ```
 * <cacheDir>/downloads/<sha256>              verified bytes (only ever created by a rename)
 * <cacheDir>/downloads/<sha256>.json         where they came from
 * <cacheDir>/downloads/<key>.part            an unfinished download, resumed next time
 * <cacheDir>/downloads/by-content/<sha256>   gunzipped-content hash -> bytes hash
 * ```
 *
 * A file is downloaded to `*.part`, verified, then renamed: nothing half-written or
 * unverified ever sits where a later run would take it for complete.
 */
import { writeFileAtomic } from "../atomic.ts";
import { gunzipSync } from "node:zlib";
import { join } from "node:path";
import { hashBytes, hashFile } from "./checksum.ts";
import { DownloadError, type DownloadOptions, downloadToPart } from "./download.ts";

/** What a source promises about a file; every given field is checked. */
export interface Expect {
  /** sha256 of the file's bytes. */
  sha256?: string;
  /** md5 of the file's bytes (a published md5, checked in addition to sha256). */
  md5?: string;
  /** sha256 of the gunzipped bytes (for mirrors that recompress, like Debian's package). */
  contentSha256?: string;
}

/** One place a file may be found, with what its bytes must hash to. */
export interface Source {
  /** `http(s)://` URL, `file://` URL or local path. */
  location: string;
  expect: Expect;
}

/** A verified file. */
export interface Acquired {
  /** Local path of the verified bytes (in the cache, or the local source itself). */
  path: string;
  /** URL or path the bytes came from. */
  source: string;
  /** File name. */
  file: string;
  sha256: string;
  md5?: string;
  contentSha256?: string;
  /** True when no byte was transferred (a cache hit or a local file). */
  cached: boolean;
  /** The gunzipped bytes, when they were computed to check `contentSha256`. */
  content?: Uint8Array;
}

/** Options of `acquireFile`: the cache root plus the download knobs. */
export interface AcquireOptions extends DownloadOptions {
  /** Root of the cache; downloads live under `<cacheDir>/downloads/`. */
  cacheDir: string;
}

/** No source gave a verified file; `problems` lists what went wrong with each. */
export class AcquireError extends Error {
  override name = "AcquireError";
  constructor(readonly file: string, readonly problems: string[]) {
    super(
      `could not get ${file} from any source:\n${problems.map((p) => `  - ${p}`).join("\n")}\n` +
        `To use a mirror or a local copy, list it in the stage's \`with: { sources: [...] }\` ` +
        `(a URL or a path; for a dataset of several files, a folder or a URL ending in "/"), ` +
        `and add \`sha256: "<hex>"\` when its bytes differ from the published file.`,
    );
  }
}

/** True for `http://` and `https://` locations. */
export function isUrl(location: string): boolean {
  return /^https?:\/\//i.test(location);
}

/** Local path of a `file://` URL or a plain path. */
export function localPath(location: string): string {
  return location.startsWith("file://") ? decodeURIComponent(new URL(location).pathname) : location;
}

/**
 * Returns `file`, verified, from the first source that has it: local files and cache hits
 * first, then downloads in the order given.
 *
 * @example
 * const got = await acquireFile("cifar-10-binary.tar.gz", [
 *   { location: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz", expect: { sha256, md5 } },
 * ], { cacheDir: ".cache" });
 */
export async function acquireFile(
  file: string,
  sources: Source[],
  options: AcquireOptions,
): Promise<Acquired> {
  if (sources.length === 0) throw new AcquireError(file, ["no source was given"]);
  const dir = join(options.cacheDir, "downloads");
  const problems: string[] = [];
  for (const src of sources) {
    if (isUrl(src.location)) {
      const hit = await cacheLookup(dir, file, src);
      if (hit) return hit;
      continue;
    }
    const path = localPath(src.location);
    if (!(await isFile(path))) {
      problems.push(`${path}: no such file`);
      continue;
    }
    const v = await verify(path, src.expect);
    if (v.mismatch) {
      problems.push(`${path}: ${v.mismatch} (the local file was left as it is)`);
      continue;
    }
    options.log?.(`using local ${file}: ${path}`);
    return { path, source: path, file, ...v.actual, cached: true, content: v.content };
  }
  for (const src of sources.filter((s) => isUrl(s.location))) {
    try {
      return await downloadVerified(dir, file, src, options);
    } catch (e) {
      if (e instanceof DownloadError && e.kind === "aborted") throw e;
      if (e instanceof DownloadError || e instanceof ChecksumMismatch) {
        problems.push(e.message);
        continue;
      }
      throw e;
    }
  }
  throw new AcquireError(file, problems);
}

class ChecksumMismatch extends Error {}

async function downloadVerified(
  dir: string,
  file: string,
  src: Source,
  options: AcquireOptions,
): Promise<Acquired> {
  await Deno.mkdir(join(dir, "by-content"), { recursive: true });
  const key = src.expect.sha256 ?? `url-${hashBytes(new TextEncoder().encode(src.location))}`;
  const part = join(dir, `${key}.part`);
  // One process at a time per file; a second one waits, then finds the finished entry.
  const lock = await Deno.open(join(dir, `${key}.lock`), { create: true, write: true });
  try {
    await lock.lock(true);
    const hit = await cacheLookup(dir, file, src);
    if (hit) return hit;
    options.log?.(`downloading ${file} from ${src.location}`);
    await downloadToPart(src.location, part, options);
    const v = await verify(part, src.expect);
    if (v.mismatch) {
      await Deno.remove(part);
      throw new ChecksumMismatch(
        `${src.location}: ${v.mismatch}; the downloaded file was deleted`,
      );
    }
    const final = join(dir, v.actual.sha256);
    const sidecar = { url: src.location, file, ...v.actual };
    await writeFileAtomic(`${final}.json`, JSON.stringify(sidecar, null, 2) + "\n");
    await Deno.rename(part, final);
    if (v.actual.contentSha256) {
      await writeFileAtomic(join(dir, "by-content", v.actual.contentSha256), v.actual.sha256);
    }
    return {
      path: final,
      source: src.location,
      file,
      ...v.actual,
      cached: false,
      content: v.content,
    };
  } finally {
    lock.close();
  }
}

/** A verified cache entry for this source's expected checksum, if there is one. */
async function cacheLookup(dir: string, file: string, src: Source): Promise<Acquired | null> {
  let sha = src.expect.sha256;
  if (!sha && src.expect.contentSha256) {
    sha = await Deno.readTextFile(join(dir, "by-content", src.expect.contentSha256))
      .then((s) => s.trim(), () => undefined);
  }
  if (!sha) return null;
  const path = join(dir, sha);
  if (!(await isFile(path))) return null;
  const side = await Deno.readTextFile(`${path}.json`).then(JSON.parse, () => ({}));
  if (src.expect.md5 && side.md5 && side.md5 !== src.expect.md5) return null;
  if (
    src.expect.contentSha256 && side.contentSha256 &&
    side.contentSha256 !== src.expect.contentSha256
  ) return null;
  return {
    path,
    source: typeof side.url === "string" ? side.url : src.location,
    file,
    sha256: sha,
    md5: side.md5,
    contentSha256: side.contentSha256,
    cached: true,
  };
}

interface Verified {
  actual: { sha256: string; md5?: string; contentSha256?: string };
  mismatch?: string;
  content?: Uint8Array;
}

/** Hashes `path` as `expect` needs and names every checksum that differs. */
async function verify(path: string, expect: Expect): Promise<Verified> {
  let actual: Verified["actual"];
  let content: Uint8Array | undefined;
  const problems: string[] = [];
  if (expect.contentSha256) {
    const bytes = await Deno.readFile(path);
    actual = { sha256: hashBytes(bytes) };
    if (expect.md5) actual.md5 = hashBytes(bytes, "md5");
    try {
      content = new Uint8Array(gunzipSync(bytes));
      actual.contentSha256 = hashBytes(content);
    } catch (e) {
      problems.push(`is not a valid gzip file (${(e as Error).message})`);
    }
  } else {
    actual = expect.md5
      ? await hashFile(path, ["sha256", "md5"] as const)
      : await hashFile(path, ["sha256"] as const);
  }
  const check = (what: string, want: string | undefined, got: string | undefined) => {
    if (want && got && want !== got) {
      problems.push(`${what} mismatch: expected ${want}, got ${got}`);
    }
  };
  check("sha256", expect.sha256, actual.sha256);
  check("md5", expect.md5, actual.md5);
  check("gunzipped-content sha256", expect.contentSha256, actual.contentSha256);
  return { actual, content, mismatch: problems.length ? problems.join("; ") : undefined };
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
