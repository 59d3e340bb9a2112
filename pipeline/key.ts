/**
 * Cache keys. The key of a stage instance is the SHA-256 of the canonical JSON of everything
 * its output may depend on: the kind and its code version, the validated parameters, the
 * content digests of the upstream outputs it reads (by upstream instance id) and the kind's
 * optional fingerprint (e.g. digests of external input files).
 */
import { resolve } from "node:path";
import { hashValue } from "./canonical.ts";
import type { Instance } from "./expand.ts";
import { hashFile, type StatCache } from "./hash.ts";
import { hashTree, treeDigest } from "./manifest.ts";
import type { FingerprintTools } from "./types.ts";

/** Everything a cache key is computed from (also what the lock file records). */
export interface KeyInputs {
  kind: string;
  kindVersion: string;
  params: Record<string, unknown>;
  /** Upstream instance id to its output digest. */
  upstream: Record<string, string>;
  /** The kind's fingerprint, when it defines one. */
  fingerprint?: unknown;
}

/** Bump when the key recipe itself changes (it invalidates every cache entry). */
const KEY_FORMAT = 1;

/** The cache key of `inputs`. */
export function cacheKey(inputs: KeyInputs): string {
  return hashValue({ format: KEY_FORMAT, ...inputs });
}

/** Fingerprint helpers backed by the stat cache. */
export function fingerprintTools(statCache: StatCache): FingerprintTools {
  return {
    async hashPath(path: string): Promise<string> {
      const abs = resolve(path);
      const info = await Deno.stat(abs);
      if (info.isDirectory) return treeDigest(await hashTree(abs, statCache));
      return (await hashFile(abs, statCache)).sha256;
    },
  };
}

/** Computes the key inputs of `inst` given its upstream digests (by instance id). */
export async function keyInputs(
  inst: Instance,
  digests: ReadonlyMap<string, string>,
  statCache: StatCache,
): Promise<KeyInputs> {
  const upstream: Record<string, string> = {};
  for (const id of [...inst.upstream].sort()) {
    const d = digests.get(id);
    if (d === undefined) {
      throw new Error(`internal: digest of ${id} unknown when keying ${inst.id}`);
    }
    upstream[id] = d;
  }
  const inputs: KeyInputs = {
    kind: inst.kind.name,
    kindVersion: inst.kind.version,
    params: inst.params,
    upstream,
  };
  if (inst.kind.fingerprint) {
    inputs.fingerprint = await inst.kind.fingerprint(inst.params, fingerprintTools(statCache));
  }
  return inputs;
}
