/**
 * Resumable HTTP download of one URL into a `*.part` file: streamed to disk, resumed with an
 * HTTP Range request after a cut, retried with exponential backoff, bounded by an idle
 * timeout. It knows nothing of checksums or caches (see `acquire.ts`): it only promises that
 * when it returns, the part file holds the whole body the server announced.
 */
import { setTimeout as sleepTimer } from "node:timers/promises";

/** Knobs of a download; every field has a default fit for a 170 MB archive. */
export interface DownloadOptions {
  /** Abort an attempt when no byte arrives for this long (ms). Default 60 000. */
  timeoutMs?: number;
  /** Further attempts after a failed one that made no progress. Default 5. */
  retries?: number;
  /** First backoff (ms); doubles each consecutive failure, capped at 30 s. Default 1000. */
  backoffMs?: number;
  /** Called as bytes arrive: bytes on disk so far and the total when the server said it. */
  onProgress?: (bytes: number, total: number | undefined) => void;
  /** One line about a retry or resume, for the stage log. */
  log?: (message: string) => void;
  /** Aborts the download (the part file stays for a later resume). */
  signal?: AbortSignal;
}

/** Why a download failed. */
export type DownloadFailure = "not-found" | "http" | "unreachable" | "incomplete" | "aborted";

/** A download that failed for good; `kind` says why, `url` names the address. */
export class DownloadError extends Error {
  override name = "DownloadError";
  constructor(
    readonly url: string,
    readonly kind: DownloadFailure,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

const MAX_BACKOFF_MS = 30_000;

/**
 * Downloads `url` into `partPath`, resuming from whatever `partPath` already holds.
 *
 * @example
 * await downloadToPart("https://host/file.tar.gz", ".cache/downloads/abc.part", { retries: 3 });
 */
export async function downloadToPart(
  url: string,
  partPath: string,
  options: DownloadOptions = {},
): Promise<{ bytes: number; total: number | undefined }> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const retries = options.retries ?? 5;
  const backoffMs = options.backoffMs ?? 1000;
  let failures = 0;
  let lastProblem = "";
  while (true) {
    if (options.signal?.aborted) {
      throw new DownloadError(url, "aborted", `download aborted: ${url}`);
    }
    const before = await sizeOf(partPath);
    const attempt = await attemptOnce(url, partPath, before, timeoutMs, options);
    if (attempt.done) return { bytes: attempt.bytes, total: attempt.total };
    lastProblem = attempt.problem;
    // A cut after real progress is not a failure of the mirror: resume at once, reset backoff.
    failures = attempt.bytes > before ? 0 : failures + 1;
    if (failures > retries) {
      throw new DownloadError(
        url,
        attempt.kind,
        `${lastProblem} (gave up after ${retries + 1} attempt${
          retries ? "s" : ""
        } without progress): ${url}`,
      );
    }
    const wait = failures === 0 ? 0 : Math.min(MAX_BACKOFF_MS, backoffMs * 2 ** (failures - 1));
    options.log?.(
      `${lastProblem} at ${formatBytes(attempt.bytes)}; ${
        attempt.bytes > 0 ? "resuming" : "retrying"
      }${wait ? ` in ${(wait / 1000).toFixed(1)} s` : ""} (${url})`,
    );
    if (wait) {
      try {
        await sleepTimer(wait, undefined, { signal: options.signal });
      } catch {
        throw new DownloadError(url, "aborted", `download aborted: ${url}`);
      }
    }
  }
}

type Attempt =
  | { done: true; bytes: number; total: number | undefined }
  | { done: false; bytes: number; problem: string; kind: DownloadFailure };

/** One HTTP request; throws only for failures no retry can fix (404, 4xx, abort). */
async function attemptOnce(
  url: string,
  partPath: string,
  have: number,
  timeoutMs: number,
  options: DownloadOptions,
): Promise<Attempt> {
  const idle = new AbortController();
  let timer = setTimeout(() => idle.abort(), timeoutMs);
  const resetTimer = () => {
    clearTimeout(timer);
    timer = setTimeout(() => idle.abort(), timeoutMs);
  };
  const signal = options.signal ? AbortSignal.any([idle.signal, options.signal]) : idle.signal;
  const reason = (e: unknown) =>
    idle.signal.aborted ? `no data for ${(timeoutMs / 1000).toFixed(1)} s` : errorText(e);
  let file: Deno.FsFile | undefined;
  let bytes = have;
  try {
    let res: Response;
    try {
      res = await fetch(url, {
        headers: have > 0 ? { range: `bytes=${have}-` } : {},
        signal,
      });
    } catch (e) {
      if (options.signal?.aborted) throw abortError(url);
      return {
        done: false,
        bytes,
        kind: "unreachable",
        problem: `cannot reach host (${reason(e)})`,
      };
    }
    if (res.status === 404 || res.status === 410) {
      await res.body?.cancel();
      throw new DownloadError(url, "not-found", `not found (HTTP ${res.status}): ${url}`, 404);
    }
    if (res.status === 416 && have > 0) {
      // The part file already holds everything (or more than) the server has.
      await res.body?.cancel();
      const total = parseContentRangeTotal(res.headers.get("content-range"));
      if (total === have) return { done: true, bytes: have, total };
      await Deno.truncate(partPath, 0);
      return { done: false, bytes: 0, kind: "incomplete", problem: "stale partial file" };
    }
    if (res.status >= 500 || res.status === 408 || res.status === 429) {
      await res.body?.cancel();
      return { done: false, bytes, kind: "http", problem: `HTTP ${res.status}` };
    }
    if (res.status !== 200 && res.status !== 206) {
      await res.body?.cancel();
      throw new DownloadError(url, "http", `HTTP ${res.status} from ${url}`, res.status);
    }
    let total: number | undefined;
    if (res.status === 206) {
      const range = parseContentRange(res.headers.get("content-range"));
      if (!range || range.start !== have) {
        // A range we did not ask for: start over rather than splice mismatched bytes.
        await res.body?.cancel();
        await Deno.truncate(partPath, 0).catch(() => {});
        return { done: false, bytes: 0, kind: "incomplete", problem: "server sent a wrong range" };
      }
      total = range.total;
      file = await Deno.open(partPath, { write: true, append: true });
    } else {
      // 200: the server ignored (or was not sent) the Range header; write from byte 0.
      const length = res.headers.get("content-length");
      total = length !== null ? Number(length) : undefined;
      bytes = 0;
      file = await Deno.open(partPath, { write: true, create: true, truncate: true });
    }
    options.onProgress?.(bytes, total);
    if (!res.body) throw new DownloadError(url, "http", `empty response body from ${url}`);
    try {
      for await (const chunk of res.body) {
        resetTimer();
        let off = 0;
        while (off < chunk.length) off += await file.write(chunk.subarray(off));
        bytes += chunk.length;
        options.onProgress?.(bytes, total);
      }
    } catch (e) {
      if (options.signal?.aborted) throw abortError(url);
      return {
        done: false,
        bytes,
        kind: "incomplete",
        problem: `connection cut (${reason(e)})`,
      };
    }
    if (total !== undefined && bytes !== total) {
      return {
        done: false,
        bytes,
        kind: "incomplete",
        problem: `body ended at ${bytes} of ${total} bytes`,
      };
    }
    return { done: true, bytes, total };
  } finally {
    clearTimeout(timer);
    file?.close();
  }
}

/** An error's message with its causes (fetch puts the useful part, e.g. DNS, in `cause`). */
function errorText(e: unknown): string {
  const parts: string[] = [];
  for (let c: unknown = e; c && parts.length < 4; c = (c as { cause?: unknown }).cause) {
    parts.push(c instanceof Error ? c.message : String(c));
  }
  return parts.join(": ");
}

function abortError(url: string): DownloadError {
  return new DownloadError(url, "aborted", `download aborted: ${url}`);
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return 0;
    throw e;
  }
}

/** Parses `bytes START-END/TOTAL`; TOTAL may be `*`. */
function parseContentRange(
  header: string | null,
): { start: number; total: number | undefined } | null {
  const m = header?.match(/^bytes (\d+)-(\d+)\/(\d+|\*)$/);
  if (!m) return null;
  return { start: Number(m[1]), total: m[3] === "*" ? undefined : Number(m[3]) };
}

function parseContentRangeTotal(header: string | null): number | undefined {
  const m = header?.match(/\/(\d+)$/);
  return m ? Number(m[1]) : undefined;
}

/** `12.3 MB` style size. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}
