/**
 * A small streaming reader for gzip-compressed tar archives (ustar, GNU long names, pax
 * `path` records): it gunzips with the built-in `DecompressionStream`, walks the 512-byte
 * headers, and keeps only the entries asked for, so a 170 MB archive is read in one pass
 * without an extraction folder.
 */

/** One regular file read from an archive. */
export interface TarFile {
  name: string;
  bytes: Uint8Array;
}

/** A malformed, truncated or corrupt archive; the message names the archive. */
export class ArchiveError extends Error {
  override name = "ArchiveError";
}

const BLOCK = 512;

/**
 * Reads the regular files of the `.tar.gz` at `path` for which `want(name)` is true.
 *
 * @example
 * const files = await readTarGz("cifar-10-binary.tar.gz", (n) => n.endsWith(".bin"));
 */
export async function readTarGz(
  path: string,
  want: (name: string) => boolean,
  onProgress?: (uncompressedBytes: number) => void,
): Promise<Map<string, Uint8Array>> {
  const file = await Deno.open(path, { read: true });
  const stream = file.readable.pipeThrough(new DecompressionStream("gzip"));
  try {
    return await readTarStream(stream, want, path, onProgress);
  } catch (e) {
    if (e instanceof ArchiveError) throw e;
    throw new ArchiveError(
      `${path}: the archive is truncated or corrupt (${(e as Error).message}); ` +
        `delete it and fetch it again`,
    );
  }
}

/** Reads a tar byte stream (already decompressed); `label` names it in errors. */
export async function readTarStream(
  stream: ReadableStream<Uint8Array>,
  want: (name: string) => boolean,
  label: string,
  onProgress?: (bytes: number) => void,
): Promise<Map<string, Uint8Array>> {
  const raw = stream.getReader();
  try {
    return await walk(new ChunkReader(raw), want, label, onProgress);
  } finally {
    await raw.cancel().catch(() => {});
  }
}

async function walk(
  reader: ChunkReader,
  want: (name: string) => boolean,
  label: string,
  onProgress?: (bytes: number) => void,
): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  let longName: string | null = null;
  let paxPath: string | null = null;
  while (true) {
    const header = await reader.read(BLOCK);
    if (header === null) return out; // clean end without end-of-archive blocks (tolerated)
    if (header.length < BLOCK) throw truncated(label, reader.offset);
    if (header.every((b) => b === 0)) {
      // End-of-archive marker. Read on to the end so that gzip checks its trailer (CRC, size).
      while (await reader.skip(1 << 20));
      return out;
    }
    checkHeader(header, label, reader.offset - BLOCK);
    const size = parseSize(header, label, reader.offset - BLOCK);
    const type = String.fromCharCode(header[156] || 0x30);
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    if (type === "L" || type === "x" || type === "g") {
      const body = await reader.read(padded);
      if (body === null || body.length < padded) throw truncated(label, reader.offset);
      const data = body.subarray(0, size);
      if (type === "L") longName = cString(data);
      else if (type === "x") paxPath = parsePaxPath(data) ?? paxPath;
      continue;
    }
    const name = paxPath ?? longName ?? headerName(header);
    longName = paxPath = null;
    const isFile = type === "0" || type === "7";
    if (isFile && want(name)) {
      const bytes = await reader.read(size);
      if (bytes === null || bytes.length < size) throw truncated(label, reader.offset, name);
      out.set(name, bytes);
      if (padded > size && !(await reader.skip(padded - size))) {
        throw truncated(label, reader.offset, name);
      }
    } else if (!(await reader.skip(padded))) {
      throw truncated(label, reader.offset, name);
    }
    onProgress?.(reader.offset);
  }
}

function truncated(label: string, offset: number, entry?: string): ArchiveError {
  return new ArchiveError(
    `${label}: the archive is truncated at byte ${offset} of its tar stream` +
      `${entry ? ` (inside ${entry})` : ""}; delete it and fetch it again`,
  );
}

function checkHeader(h: Uint8Array, label: string, at: number): void {
  const stored = parseOctal(h.subarray(148, 156));
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i];
  if (stored !== sum) {
    throw new ArchiveError(
      `${label}: corrupt tar header at byte ${at} (checksum ${stored}, computed ${sum})`,
    );
  }
}

function parseSize(h: Uint8Array, label: string, at: number): number {
  const field = h.subarray(124, 136);
  if (field[0] & 0x80) {
    // GNU base-256 encoding for sizes past 8 GiB.
    let n = field[0] & 0x7f;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i];
    return n;
  }
  const n = parseOctal(field);
  if (!Number.isFinite(n)) throw new ArchiveError(`${label}: bad size field in header at ${at}`);
  return n;
}

function parseOctal(field: Uint8Array): number {
  const s = cString(field).trim();
  return s === "" ? 0 : parseInt(s, 8);
}

function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
}

function headerName(h: Uint8Array): string {
  const name = cString(h.subarray(0, 100));
  const ustar = cString(h.subarray(257, 263)).startsWith("ustar");
  const prefix = ustar ? cString(h.subarray(345, 500)) : "";
  return prefix ? `${prefix}/${name}` : name;
}

/** The `path` record of a pax extended header (`"<len> path=<value>\n"` records). */
function parsePaxPath(data: Uint8Array): string | null {
  const text = new TextDecoder().decode(data);
  let pos = 0;
  let path: string | null = null;
  while (pos < text.length) {
    const space = text.indexOf(" ", pos);
    if (space < 0) break;
    const len = Number(text.slice(pos, space));
    if (!Number.isInteger(len) || len <= 0) break;
    const record = text.slice(space + 1, pos + len - 1);
    const eq = record.indexOf("=");
    if (record.slice(0, eq) === "path") path = record.slice(eq + 1);
    pos += len;
  }
  return path;
}

/** Exact-size reads over a stream of arbitrary chunks. */
class ChunkReader {
  offset = 0;
  #chunk: Uint8Array = new Uint8Array(0);
  #pos = 0;
  #done = false;
  constructor(private reader: ReadableStreamDefaultReader<Uint8Array>) {}

  async #fill(): Promise<boolean> {
    while (this.#pos >= this.#chunk.length) {
      if (this.#done) return false;
      const { value, done } = await this.reader.read();
      if (done) {
        this.#done = true;
        return false;
      }
      this.#chunk = value;
      this.#pos = 0;
    }
    return true;
  }

  /** `n` bytes, fewer at the end of the stream, null when nothing was left. */
  async read(n: number): Promise<Uint8Array | null> {
    if (!(await this.#fill())) return n === 0 ? new Uint8Array(0) : null;
    if (this.#chunk.length - this.#pos >= n) {
      const view = this.#chunk.slice(this.#pos, this.#pos + n);
      this.#pos += n;
      this.offset += n;
      return view;
    }
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n && (await this.#fill())) {
      const take = Math.min(n - got, this.#chunk.length - this.#pos);
      out.set(this.#chunk.subarray(this.#pos, this.#pos + take), got);
      this.#pos += take;
      got += take;
    }
    this.offset += got;
    return got === n ? out : out.subarray(0, got);
  }

  /** Skips `n` bytes; false when the stream ended first. */
  async skip(n: number): Promise<boolean> {
    let left = n;
    while (left > 0) {
      if (!(await this.#fill())) return false;
      const take = Math.min(left, this.#chunk.length - this.#pos);
      this.#pos += take;
      left -= take;
      this.offset += take;
    }
    return true;
  }
}
