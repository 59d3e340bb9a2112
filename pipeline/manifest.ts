/**
 * Manifests of output folders: the sorted list of relative file paths with each file's
 * SHA-256 and size. An output's content digest is the hash of that list, so it changes
 * exactly when a file is added, removed, renamed or altered.
 */
import { hashValue } from "./canonical.ts";
import { hashFile, type StatCache } from "./hash.ts";

/** Name of the manifest file inside a committed output folder (not part of the digest). */
export const MANIFEST_FILE = ".manifest.json";

/** One file of an output folder. */
export interface ManifestFile {
  /** Path relative to the folder, `/`-separated. */
  path: string;
  size: number;
  sha256: string;
}

/**
 * Lists the regular files under `dir` as sorted relative paths, skipping the top-level
 * manifest. Symlinks and other special files are refused: an output must be self-contained.
 */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(rel: string): Promise<void> {
    for await (const e of Deno.readDir(rel ? `${dir}/${rel}` : dir)) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) await walk(path);
      else if (e.isFile) {
        if (path !== MANIFEST_FILE) out.push(path);
      } else {
        throw new Error(
          `output ${path} is a ${e.isSymlink ? "symlink" : "special file"}; ` +
            `stage outputs must be regular files (copy the target instead)`,
        );
      }
    }
  }
  await walk("");
  return out.sort();
}

/**
 * Hashes every file under `dir`. With `recordRoot`, stat-cache entries are stored as if the
 * folder already were at `recordRoot` (it is about to be renamed there).
 */
export async function hashTree(
  dir: string,
  statCache: StatCache,
  recordRoot: string = dir,
): Promise<ManifestFile[]> {
  const files: ManifestFile[] = [];
  for (const path of await listFiles(dir)) {
    const d = await hashFile(`${dir}/${path}`, statCache, `${recordRoot}/${path}`);
    files.push({ path, size: d.size, sha256: d.sha256 });
  }
  return files;
}

/** The content digest of a list of manifest files (order-independent). */
export function treeDigest(files: ManifestFile[]): string {
  const sorted = [...files].sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  return hashValue(sorted.map((f) => [f.path, f.size, f.sha256]));
}

/**
 * Checks that the files under `dir` are exactly those of `files` with the same content.
 * Returns null when they match, else a one-line description of the first difference.
 */
export async function verifyTree(
  dir: string,
  files: ManifestFile[],
  statCache: StatCache,
): Promise<string | null> {
  const present = await listFiles(dir);
  const expected = new Map(files.map((f) => [f.path, f]));
  for (const path of present) {
    if (!expected.has(path)) return `unexpected file ${path}`;
  }
  const have = new Set(present);
  for (const f of files) {
    if (!have.has(f.path)) return `missing file ${f.path}`;
    const d = await hashFile(`${dir}/${f.path}`, statCache);
    if (d.size !== f.size) return `${f.path}: size ${d.size}, manifest says ${f.size}`;
    if (d.sha256 !== f.sha256) {
      return `${f.path}: sha256 ${d.sha256.slice(0, 12)}…, manifest says ${f.sha256.slice(0, 12)}…`;
    }
  }
  return null;
}
