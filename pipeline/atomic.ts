/** Atomic file writes: a reader sees the old content or the new one, never half of it. */

import { writeFileAtomic } from "../arb/atomic.ts";

/** Writes `data` to `path` through a temporary sibling file and a rename (one implementation: `arb/atomic.ts`). */
export { writeFileAtomic };

/** Writes `value` as pretty JSON (two-space indent, trailing newline) atomically. */
export function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  return writeFileAtomic(path, JSON.stringify(value, null, 2) + "\n");
}

/** Removes `path` recursively; a missing path is not an error. */
export async function removeIfExists(path: string): Promise<void> {
  try {
    await Deno.remove(path, { recursive: true });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}
