/**
 * The safetensors file format (https://github.com/huggingface/safetensors): an 8-byte
 * little-endian header length N, N bytes of JSON header (`{ name: { dtype, shape,
 * data_offsets: [begin, end] }, __metadata__: { string: string } }`, padded with spaces to a
 * multiple of 8), then the raw little-endian tensor bytes. Files are written atomically.
 */

/** dtypes we read and write. */
import { writeFileAtomic } from "./atomic.ts";
export type SafeDtype = "F32" | "F64" | "I32" | "I64" | "U8" | "BOOL";

/** One tensor's host data. */
export interface HostTensor {
  dtype: SafeDtype;
  shape: number[];
  data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;
}

const BYTES: Record<SafeDtype, number> = { F32: 4, F64: 8, I32: 4, I64: 8, U8: 1, BOOL: 1 };

/** Serialises tensors (in the given key order) and string metadata to safetensors bytes. */
export function encodeSafetensors(
  tensors: Record<string, HostTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) {
      throw new Error(`safetensors: ${name} has ${t.data.length} values for shape [${t.shape}]`);
    }
    const bytes = n * BYTES[t.dtype];
    if (bytes !== t.data.byteLength) {
      throw new Error(`safetensors: ${name}: ${t.data.constructor.name} does not hold ${t.dtype}`);
    }
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const t of Object.values(tensors)) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

/** Parses safetensors bytes; `source` names the file in errors. */
export function decodeSafetensors(
  bytes: Uint8Array,
  source = "safetensors data",
): { tensors: Record<string, HostTensor>; metadata: Record<string, string> } {
  const bad = (why: string) => new Error(`${source}: not a valid safetensors file: ${why}`);
  if (bytes.length < 8) throw bad("shorter than its 8-byte header length");
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (n > bytes.length - 8) {
    throw bad(`header length ${n} exceeds the file (${bytes.length} bytes)`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw bad(`header is not JSON (${(e as Error).message})`);
  }
  const dataStart = 8 + n;
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  const tensors: Record<string, HostTensor> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const { dtype, shape, data_offsets } = entry as {
      dtype: SafeDtype;
      shape: number[];
      data_offsets: [number, number];
    };
    if (!(dtype in BYTES)) throw bad(`${name} has unsupported dtype ${dtype}`);
    const [b, e] = data_offsets ?? [];
    const count = (shape ?? []).reduce((p, q) => p * q, 1);
    if (!(b >= 0 && e >= b && dataStart + e <= bytes.length && e - b === count * BYTES[dtype])) {
      throw bad(`${name} has bad data_offsets [${data_offsets}] for shape [${shape}] ${dtype}`);
    }
    // Copy into an aligned buffer (the header length need not keep offsets aligned).
    const raw = bytes.slice(dataStart + b, dataStart + e).buffer;
    const data = dtype === "F32"
      ? new Float32Array(raw)
      : dtype === "F64"
      ? new Float64Array(raw)
      : dtype === "I32"
      ? new Int32Array(raw)
      : dtype === "I64"
      ? new BigInt64Array(raw)
      : new Uint8Array(raw);
    tensors[name] = { dtype, shape, data };
  }
  return { tensors, metadata };
}

/** Writes a safetensors file atomically. */
export async function writeSafetensors(
  path: string,
  tensors: Record<string, HostTensor>,
  metadata: Record<string, string> = {},
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

/** Reads a safetensors file. */
export async function readSafetensors(
  path: string,
): Promise<{ tensors: Record<string, HostTensor>; metadata: Record<string, string> }> {
  return decodeSafetensors(await Deno.readFile(path), path);
}
