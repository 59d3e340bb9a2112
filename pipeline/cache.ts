/**
 * The content-addressed output cache. Layout under the cache root:
 *
 * ```
 * objects/<key>/         committed outputs + .manifest.json (never modified in place)
 * tmp/<key>.<pid>.<id>/  fresh work folders, renamed into objects/ only on success
 * state/<key>/           ctx.stateDir: survives a crashed attempt, deleted after commit
 * locks/<key>.lock       per-key OS file locks (see key_lock.ts)
 * stat-cache.json        file digests by path + stat (see hash.ts)
 * ```
 *
 * Nothing under `objects/` is ever written in place: a folder appears there by one rename,
 * complete with its manifest, so a crash at any moment leaves either no entry or a whole one.
 */
import { removeIfExists } from "./atomic.ts";
import { type StatCache } from "./hash.ts";
import { hashTree, MANIFEST_FILE, type ManifestFile, treeDigest, verifyTree } from "./manifest.ts";

/** Runtime versions recorded with every output (and copied into the lock file). */
export interface RuntimeInfo {
  deno: string;
  dependencies: Record<string, string>;
}

/** The `.manifest.json` of a committed output. */
export interface OutputManifest {
  format: 1;
  key: string;
  /** Content digest: `treeDigest(files)`. */
  digest: string;
  files: ManifestFile[];
  /** Instance id and kind that produced it (informative; the key is what identifies it). */
  id: string;
  kind: string;
  kindVersion: string;
  startedAt: string;
  seconds: number;
  runtime: RuntimeInfo;
}

/** What a cache lookup found. */
export type Lookup =
  | { status: "hit"; dir: string; manifest: OutputManifest }
  | { status: "miss" }
  | { status: "corrupt"; problem: string };

/** Facts about a run that go into the manifest at commit. */
export type CommitInfo = Omit<OutputManifest, "format" | "key" | "digest" | "files">;

/** A cache folder (`ARB_CACHE_DIR`, default `.cache/`). */
export class Cache {
  /** `root` must be absolute. */
  constructor(readonly root: string) {}

  /** Folder of the committed output for `key`. */
  objectDir(key: string): string {
    return `${this.root}/objects/${key}`;
  }

  /** The crash-surviving scratch folder for `key`. */
  stateDir(key: string): string {
    return `${this.root}/state/${key}`;
  }

  /** The OS lock file for `key`. */
  lockPath(key: string): string {
    return `${this.root}/locks/${key}.lock`;
  }

  /** Where the stat cache is stored. */
  get statCacheFile(): string {
    return `${this.root}/stat-cache.json`;
  }

  /** Finds and verifies the entry for `key` (file contents checked through the stat cache). */
  async lookup(key: string, statCache: StatCache): Promise<Lookup> {
    const dir = this.objectDir(key);
    let text: string;
    try {
      text = await Deno.readTextFile(`${dir}/${MANIFEST_FILE}`);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        return await exists(dir)
          ? { status: "corrupt", problem: `${MANIFEST_FILE} is missing` }
          : { status: "miss" };
      }
      throw e;
    }
    let manifest: OutputManifest;
    try {
      manifest = JSON.parse(text);
    } catch {
      return { status: "corrupt", problem: `${MANIFEST_FILE} is not valid JSON` };
    }
    if (manifest?.format !== 1 || manifest.key !== key || !Array.isArray(manifest.files)) {
      return { status: "corrupt", problem: `${MANIFEST_FILE} does not describe key ${key}` };
    }
    if (treeDigest(manifest.files) !== manifest.digest) {
      return { status: "corrupt", problem: `${MANIFEST_FILE} digest does not match its files` };
    }
    const problem = await verifyTree(dir, manifest.files, statCache);
    if (problem) return { status: "corrupt", problem: `digest mismatch: ${problem}` };
    return { status: "hit", dir, manifest };
  }

  /** Creates a fresh, empty work folder for an attempt at `key`. */
  async createWorkDir(key: string): Promise<string> {
    const dir = `${this.root}/tmp/${key}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}`;
    await Deno.mkdir(dir, { recursive: true });
    return dir;
  }

  /**
   * Removes work folders that earlier, dead attempts at `key` left behind. Call only while
   * holding the key's lock: then no live process owns one.
   */
  async removeStaleWork(key: string): Promise<void> {
    try {
      for await (const e of Deno.readDir(`${this.root}/tmp`)) {
        if (e.name.startsWith(`${key}.`)) await removeIfExists(`${this.root}/tmp/${e.name}`);
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }

  /**
   * Commits `workDir` as the output of `key`: hashes its files, writes the manifest and
   * renames the folder into place, replacing an existing entry (forced re-run or corrupt
   * entry). Call while holding the key's lock. Files are left writable on purpose: copies
   * made by later stages keep their mode, and any change to an entry is caught on lookup.
   */
  async commit(
    key: string,
    workDir: string,
    info: CommitInfo,
    statCache: StatCache,
  ): Promise<OutputManifest> {
    const dir = this.objectDir(key);
    const files = await hashTree(workDir, statCache, dir);
    const manifest: OutputManifest = {
      format: 1,
      key,
      digest: treeDigest(files),
      files,
      ...info,
    };
    await Deno.writeTextFile(`${workDir}/${MANIFEST_FILE}`, JSON.stringify(manifest, null, 1));
    await Deno.mkdir(`${this.root}/objects`, { recursive: true });
    await this.evict(key);
    await Deno.rename(workDir, dir);
    return manifest;
  }

  /** Removes the entry for `key` if present (moved aside first, so removal is atomic). */
  async evict(key: string): Promise<void> {
    const dir = this.objectDir(key);
    if (!(await exists(dir))) return;
    const trash = `${this.root}/tmp/${key}.trash.${crypto.randomUUID().slice(0, 8)}`;
    await Deno.mkdir(`${this.root}/tmp`, { recursive: true });
    await Deno.rename(dir, trash);
    await removeIfExists(trash);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
