/**
 * Per-key OS file locks, so two processes sharing a cache never run the same stage instance
 * at once. The lock is an advisory exclusive lock (`flock`) on `locks/<key>.lock`; the OS
 * drops it when the holder exits, even by `kill -9`, so a crash never leaves a stale lock.
 * The holder writes its pid into the file so a waiter can say whom it waits for.
 */

/** How often a waiter retries; polling (not a blocking lock) keeps waiting abortable. */
const POLL_MS = 100;

/** A held key lock. */
export interface KeyLock {
  /** Releases the lock (idempotent). */
  release(): void;
}

/** Options for {@link acquireKeyLock}. */
export interface AcquireOptions {
  /** Aborts the wait (the promise rejects with the signal's reason). */
  signal?: AbortSignal;
  /** Called once, when the lock is found held by someone else; `holder` is their pid text. */
  onWait?: (holder: string) => void;
}

/** Acquires the exclusive lock at `path`, waiting (and saying so once) while another holds it. */
export async function acquireKeyLock(path: string, opts: AcquireOptions = {}): Promise<KeyLock> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  const file = await Deno.open(path, { read: true, write: true, create: true });
  try {
    let announced = false;
    while (!(await file.tryLock(true))) {
      if (!announced) {
        announced = true;
        opts.onWait?.(await readHolder(path));
      }
      opts.signal?.throwIfAborted();
      await sleep(POLL_MS);
      opts.signal?.throwIfAborted();
    }
    await file.truncate(0);
    await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
  } catch (e) {
    file.close();
    throw e;
  }
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      file.close(); // closing the descriptor releases the flock
    },
  };
}

async function readHolder(path: string): Promise<string> {
  try {
    const pid = (await Deno.readTextFile(path)).trim();
    return pid ? `pid ${pid}` : "another process";
  } catch {
    return "another process";
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
