/**
 * Fixtures for the data tests: a minimal ustar writer, CIFAR-10/100 archives in the exact
 * binary layout (built here, from a seeded generator), and a local HTTP server on 127.0.0.1
 * that can serve normally (with Range), cut a connection mid-file, ignore Range, stall, or 404.
 */
import { Rng } from "../arb/rng.ts";

/** One file of a tar archive. */
export interface TarInput {
  name: string;
  bytes?: Uint8Array;
  dir?: boolean;
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, "0") + "\0";
}

/** A ustar archive of `entries` (names up to 100 bytes), with the two end blocks. */
export function writeTar(entries: TarInput[]): Uint8Array {
  const enc = new TextEncoder();
  const blocks: Uint8Array[] = [];
  for (const e of entries) {
    const bytes = e.bytes ?? new Uint8Array(0);
    const h = new Uint8Array(512);
    const put = (s: string, at: number) => h.set(enc.encode(s), at);
    put(e.name, 0);
    put(octal(e.dir ? 0o755 : 0o644, 8), 100);
    put(octal(0, 8), 108);
    put(octal(0, 8), 116);
    put(octal(e.dir ? 0 : bytes.length, 12), 124);
    put(octal(1_300_000_000, 12), 136);
    put("        ", 148);
    put(e.dir ? "5" : "0", 156);
    put("ustar\u000000", 257);
    let sum = 0;
    for (const b of h) sum += b;
    put(octal(sum, 7) + " ", 148);
    blocks.push(h);
    if (!e.dir) {
      const padded = new Uint8Array(Math.ceil(bytes.length / 512) * 512);
      padded.set(bytes);
      blocks.push(padded);
    }
  }
  blocks.push(new Uint8Array(1024));
  const out = new Uint8Array(blocks.reduce((s, b) => s + b.length, 0));
  let at = 0;
  for (const b of blocks) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** gzip of `bytes` (the built-in CompressionStream). */
export async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The CIFAR-10 class names, as in `batches.meta.txt`. */
export const CIFAR10_NAMES = [
  "airplane",
  "automobile",
  "bird",
  "cat",
  "deer",
  "dog",
  "frog",
  "horse",
  "ship",
  "truck",
];

/** A generated split: planar records as the archive holds them, and what a reader must give. */
export interface CifarSplitFixture {
  n: number;
  /** Raw records, as stored in the archive. */
  records: Uint8Array;
  /** The same images converted to NHWC by the test (reference for the reader). */
  nhwc: Uint8Array;
  fine: Int32Array;
  coarse?: Int32Array;
}

/** Generates `n` CIFAR records (1 or 2 label bytes) from `rng`. */
export function cifarRecords(
  n: number,
  rng: Rng,
  kind: 10 | 100,
  labelOf?: (i: number) => number,
): CifarSplitFixture {
  const labelBytes = kind === 10 ? 1 : 2;
  const rec = labelBytes + 3072;
  const records = new Uint8Array(n * rec);
  const nhwc = new Uint8Array(n * 3072);
  const fine = new Int32Array(n);
  const coarse = kind === 100 ? new Int32Array(n) : undefined;
  for (let i = 0; i < n; i++) {
    const y = labelOf ? labelOf(i) : rng.int(kind);
    fine[i] = y;
    if (coarse) {
      coarse[i] = Math.floor(y / 5);
      records[i * rec] = coarse[i];
      records[i * rec + 1] = y;
    } else {
      records[i * rec] = y;
    }
    for (let ch = 0; ch < 3; ch++) {
      for (let p = 0; p < 1024; p++) {
        // Channel-dependent ranges so the per-channel means differ.
        const v = Math.min(255, rng.int(128 + 64 * ch));
        records[i * rec + labelBytes + ch * 1024 + p] = v;
        nhwc[i * 3072 + p * 3 + ch] = v;
      }
    }
  }
  return { n, records, nhwc, fine, coarse };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A CIFAR-10 binary archive of 5 x `perBatch` train and `test` test images. */
export async function cifar10Archive(perBatch: number, test: number, seed = 1) {
  const rng = new Rng(seed);
  const batches = [0, 1, 2, 3, 4].map(() => cifarRecords(perBatch, rng, 10));
  const testSplit = cifarRecords(test, rng, 10);
  const d = "cifar-10-batches-bin/";
  const tar = writeTar([
    { name: d, dir: true },
    ...batches.map((b, i) => ({ name: `${d}data_batch_${i + 1}.bin`, bytes: b.records })),
    { name: `${d}test_batch.bin`, bytes: testSplit.records },
    {
      name: `${d}batches.meta.txt`,
      bytes: new TextEncoder().encode(CIFAR10_NAMES.join("\n") + "\n\n"),
    },
    { name: `${d}readme.html`, bytes: new TextEncoder().encode("<html></html>") },
  ]);
  const train: CifarSplitFixture = {
    n: perBatch * 5,
    records: concat(batches.map((b) => b.records)),
    nhwc: concat(batches.map((b) => b.nhwc)),
    fine: Int32Array.from(batches.flatMap((b) => [...b.fine])),
  };
  return { tarGz: await gzip(tar), tar, train, test: testSplit };
}

/** CIFAR-100 fine and coarse names of the fixture. */
export const CIFAR100_FINE = Array.from({ length: 100 }, (_, i) => `fine_${i}`);
/** The fixture's 20 coarse names. */
export const CIFAR100_COARSE = Array.from({ length: 20 }, (_, i) => `coarse_${i}`);

/** A CIFAR-100 binary archive of `train` and `test` images (coarse label = fine / 5). */
export async function cifar100Archive(train: number, test: number, seed = 2) {
  const rng = new Rng(seed);
  const tr = cifarRecords(train, rng, 100);
  const te = cifarRecords(test, rng, 100);
  const d = "cifar-100-binary/";
  const enc = new TextEncoder();
  const tar = writeTar([
    { name: d, dir: true },
    { name: `${d}coarse_label_names.txt`, bytes: enc.encode(CIFAR100_COARSE.join("\n") + "\n") },
    { name: `${d}fine_label_names.txt`, bytes: enc.encode(CIFAR100_FINE.join("\n") + "\n") },
    { name: `${d}test.bin`, bytes: te.records },
    { name: `${d}train.bin`, bytes: tr.records },
  ]);
  return { tarGz: await gzip(tar), train: tr, test: te };
}

/** How the test server answers one path. */
export type ServeMode =
  | "normal" // 200, or 206 for a Range request
  | "cut-once" // first response cut after half the bytes, then normal
  | "cut-always" // every response cut after half of what it would send
  | "ignore-range" // always 200 with the whole file
  | "stall-once"; // first response sends half, then stalls without closing; then normal

/** One request the server saw. */
export interface SeenRequest {
  path: string;
  range: string | null;
}

/** A local HTTP server over a map of paths to bytes. */
export interface TestServer {
  base: string;
  requests: SeenRequest[];
  files: Map<string, Uint8Array>;
  modes: Map<string, ServeMode>;
  close(): Promise<void>;
}

/** Starts the test server on 127.0.0.1, a free port; paths not in `files` get 404. */
export function startServer(files: Record<string, Uint8Array> = {}): TestServer {
  const fileMap = new Map(Object.entries(files));
  const modes = new Map<string, ServeMode>();
  const requests: SeenRequest[] = [];
  const served = new Map<string, number>();
  const stalls: Array<() => void> = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    const range = req.headers.get("range");
    requests.push({ path, range });
    const body = fileMap.get(path);
    if (!body) return new Response("not found", { status: 404 });
    const count = served.get(path) ?? 0;
    served.set(path, count + 1);
    const mode = modes.get(path) ?? "normal";
    let start = 0;
    const m = range?.match(/^bytes=(\d+)-$/);
    if (m && mode !== "ignore-range") start = Number(m[1]);
    if (start > body.length) {
      return new Response(null, {
        status: 416,
        headers: { "content-range": `bytes */${body.length}` },
      });
    }
    const part = body.subarray(start);
    const headers: Record<string, string> = { "content-length": String(part.length) };
    if (start > 0) headers["content-range"] = `bytes ${start}-${body.length - 1}/${body.length}`;
    const status = start > 0 ? 206 : 200;
    const cut = mode === "cut-always" || (mode === "cut-once" && count === 0);
    const stall = mode === "stall-once" && count === 0;
    if (!cut && !stall) return new Response(part as Uint8Array<ArrayBuffer>, { status, headers });
    const half = Math.floor(part.length / 2);
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(part.slice(0, half));
        // Closing short of content-length makes the server drop the connection mid-body.
        if (cut) setTimeout(() => c.close(), 5);
        else {
          stalls.push(() => {
            try {
              c.close();
            } catch { /* the client already dropped it */ }
          });
        }
      },
    });
    return new Response(stream, { status, headers });
  });
  return {
    base: `http://127.0.0.1:${server.addr.port}`,
    requests,
    files: fileMap,
    modes,
    async close() {
      for (const release of stalls) release();
      await server.shutdown();
    },
  };
}

/** A fresh temporary folder removed by the returned function. */
export async function tempDir(prefix = "arb-data-test-"): Promise<
  { dir: string; [Symbol.asyncDispose](): Promise<void> }
> {
  const dir = await Deno.makeTempDir({ prefix });
  return {
    dir,
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
