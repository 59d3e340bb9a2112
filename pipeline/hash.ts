/**
 * Streaming SHA-256 of files with a stat cache: a file whose path, size, mtime, ctime and
 * inode are unchanged since it was last hashed is not read again, so re-checking an
 * unchanged multi-GB dataset costs one `stat`.
 */
import { createHash } from "node:crypto";
import { writeJsonAtomic } from "./atomic.ts";

/** Read size for streaming hashes: large enough to amortise syscalls, small enough for cache. */
const CHUNK = 4 << 20;
/**
 * A file changed within this many milliseconds of being hashed is not trusted from the cache:
 * the kernel stamps files with a coarse clock (a few ms), so a later write in the same tick
 * could keep the same mtime ("racily clean", as git calls it). Such files are hashed again.
 */
const RACY_MS = 30;
/** Entries not looked at for this long are dropped when the cache is saved. */
const FORGET_AFTER_MS = 30 * 24 * 3600 * 1000;

/** The facts about a file that must all be unchanged for a cached hash to be reused. */
interface StatKey {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
}

interface Entry extends StatKey {
  sha256: string;
  /** Last time this entry was used or written (ms since epoch). */
  seen: number;
}

/** Reads the stat key of a regular file (follows symlinks). */
async function statKey(path: string): Promise<StatKey> {
  const s = await Deno.stat(path);
  if (!s.isFile) throw new Error(`${path} is not a regular file`);
  return {
    size: s.size,
    mtimeMs: s.mtime?.getTime() ?? 0,
    ctimeMs: s.ctime?.getTime() ?? 0,
    ino: s.ino ?? 0,
  };
}

function sameStat(a: StatKey, b: StatKey): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs &&
    a.ino === b.ino;
}

/** Persistent map from absolute file path to its last known stat and SHA-256. */
export class StatCache {
  #entries = new Map<string, Entry>();
  #dirty = false;

  private constructor(readonly file: string | null) {}

  /** Loads the cache stored at `file` (a missing or unreadable file gives an empty cache). */
  static async load(file: string): Promise<StatCache> {
    const cache = new StatCache(file);
    cache.#merge(await readEntries(file), false);
    return cache;
  }

  /** A cache that lives only in memory. */
  static memory(): StatCache {
    return new StatCache(null);
  }

  /** The cached digest of `path` if its stat still matches, else undefined. */
  lookup(path: string, stat: StatKey): string | undefined {
    const e = this.#entries.get(path);
    if (!e || !sameStat(e, stat)) return undefined;
    // Refresh the last-used time only daily, so a fully cached run writes nothing.
    if (Date.now() - e.seen > 24 * 3600 * 1000) {
      e.seen = Date.now();
      this.#dirty = true;
    }
    return e.sha256;
  }

  /**
   * Records the digest of `path` as it was between two identical stats; `hashedAt` is when
   * hashing finished. Racily fresh files are not recorded (see RACY_MS).
   */
  record(path: string, stat: StatKey, sha256: string, hashedAt = Date.now()): void {
    if (hashedAt - Math.max(stat.mtimeMs, stat.ctimeMs) < RACY_MS) {
      this.#entries.delete(path);
      return;
    }
    this.#entries.set(path, { ...stat, sha256, seen: Date.now() });
    this.#dirty = true;
  }

  /** Writes the cache atomically, merged with what other processes saved meanwhile. */
  async save(): Promise<void> {
    if (!this.file || !this.#dirty) return;
    this.#merge(await readEntries(this.file), true);
    const cutoff = Date.now() - FORGET_AFTER_MS;
    const out: Record<string, Entry> = {};
    for (const [path, e] of this.#entries) if (e.seen >= cutoff) out[path] = e;
    await Deno.mkdir(dirOf(this.file), { recursive: true });
    await writeJsonAtomic(this.file, { format: 1, entries: out });
    this.#dirty = false;
  }

  #merge(entries: Record<string, Entry>, keepOwn: boolean): void {
    for (const [path, e] of Object.entries(entries)) {
      if (keepOwn && this.#entries.has(path)) continue;
      this.#entries.set(path, e);
    }
  }
}

async function readEntries(file: string): Promise<Record<string, Entry>> {
  try {
    const data = JSON.parse(await Deno.readTextFile(file));
    return data?.format === 1 && typeof data.entries === "object" ? data.entries : {};
  } catch {
    return {}; // missing or damaged: it is only a cache
  }
}

function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

/**
 * Streams `path` through SHA-256 (no cache) and returns the hex digest and byte count. Two
 * buffers alternate so the next read (off the main thread) overlaps hashing the current one.
 */
export async function sha256File(path: string): Promise<{ sha256: string; size: number }> {
  using file = await Deno.open(path, { read: true });
  const hash = createHash("sha256");
  const bufs = [new Uint8Array(CHUNK), new Uint8Array(CHUNK)];
  let size = 0;
  let which = 0;
  let pending = fill(file, bufs[which]);
  for (;;) {
    const n = await pending;
    if (n === 0) break;
    const current = bufs[which];
    which ^= 1;
    pending = fill(file, bufs[which]);
    hash.update(current.subarray(0, n));
    size += n;
  }
  return { sha256: hash.digest("hex"), size };
}

/** Reads until `buf` is full or the file ends; returns the byte count (0 at the end). */
async function fill(file: Deno.FsFile, buf: Uint8Array): Promise<number> {
  let n = 0;
  while (n < buf.length) {
    const got = await file.read(buf.subarray(n));
    if (got === null) break;
    n += got;
  }
  return n;
}

/** Result of hashing one file. */
export interface FileDigest {
  sha256: string;
  size: number;
  /** True when the stat cache answered and the file was not read. */
  cached: boolean;
}

/**
 * SHA-256 of the file at `path`, from `cache` when its stat is unchanged, else streamed and
 * recorded. `recordAs` stores the entry under another absolute path: used when a folder is
 * hashed just before being renamed into place (a rename keeps inode, mtime and ctime).
 */
export async function hashFile(
  path: string,
  cache: StatCache,
  recordAs: string = path,
): Promise<FileDigest> {
  const before = await statKey(path);
  const known = cache.lookup(recordAs, before);
  if (known) return { sha256: known, size: before.size, cached: true };
  const { sha256, size } = await sha256File(path);
  const after = await statKey(path);
  if (size === after.size && sameStat(before, after)) cache.record(recordAs, after, sha256);
  return { sha256, size, cached: false };
}
