/**
 * Streaming checksums of files and byte arrays (node:crypto hashes incrementally, so a 170 MB
 * archive is never held in memory just to be hashed).
 */
import { createHash } from "node:crypto";

/** Hash algorithms we check. */
export type HashAlgo = "sha256" | "md5";

/** Hex digest of `bytes`. */
export function hashBytes(bytes: Uint8Array, algo: HashAlgo = "sha256"): string {
  return createHash(algo).update(bytes).digest("hex");
}

/**
 * Hex digests of a file's bytes for each requested algorithm, in one streaming pass.
 *
 * @example
 * const { sha256 } = await hashFile("cifar-10-binary.tar.gz", ["sha256"]);
 */
export async function hashFile<A extends HashAlgo>(
  path: string,
  algos: readonly A[],
): Promise<Record<A, string>> {
  const hashes = algos.map((a) => createHash(a));
  const file = await Deno.open(path, { read: true });
  for await (const chunk of file.readable) for (const h of hashes) h.update(chunk);
  const out = {} as Record<A, string>;
  algos.forEach((a, i) => out[a] = hashes[i].digest("hex"));
  return out;
}
