/**
 * Atomic file writes: a reader sees the old content or the new, never half. It lives in the
 * trainer module, which stays usable without the pipeline; `pipeline/atomic.ts` re-exports it.
 */

/** Writes `data` to `path` through a temporary sibling file and a rename. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    if (typeof data === "string") await Deno.writeTextFile(tmp, data);
    else await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}
