/**
 * Our WebAssembly SIMD loops (`simd.wat`) instantiated on the wasm backend's own memory, so
 * that they read and write tfjs tensors in place. JavaScript loops over the heap run at 2 to 5 ns
 * per element here; these run four lanes at a time. They are single-threaded (the main thread,
 * between tfjs kernels) and deterministic.
 *
 * The memory is the Emscripten module's: `wasmMemory` (threaded build, shared) or `asm.memory`
 * (single-threaded build). Where neither is found, {@link simdKernels} returns null and callers
 * use their JavaScript loops.
 */
import { tf } from "../tf.ts";
import { SIMD_WASM } from "./simd_wasm.ts";

type Info = tf.TensorInfo;

interface EmscriptenLike {
  wasmMemory?: WebAssembly.Memory;
  asm?: { memory?: WebAssembly.Memory };
  _malloc(bytes: number): number;
  _free(ptr: number): void;
}

interface WasmBackendLike {
  wasm: EmscriptenLike;
  dataIdMap: { get(id: unknown): { memoryOffset: number } | undefined };
}

/** The exported loops of `simd.wat` (byte offsets into the backend's memory). */
export interface SimdExports {
  bn_stats(
    x: number,
    p: number,
    c: number,
    shift: number,
    s1: number,
    s2: number,
    t1: number,
    t2: number,
  ): void;
  bn_apply(
    x: number,
    y: number,
    p: number,
    c: number,
    scale: number,
    offset: number,
    relu: number,
  ): void;
  bn_grad_stats(
    dy: number,
    x: number,
    y: number,
    p: number,
    c: number,
    mean: number,
    sg: number,
    sgx: number,
    relu: number,
    t1: number,
    t2: number,
  ): void;
  bn_grad_apply(
    dy: number,
    x: number,
    y: number,
    dx: number,
    p: number,
    c: number,
    k: number,
    a: number,
    d: number,
    relu: number,
  ): void;
  conv_filter_grad_direct(
    x: number,
    dy: number,
    dw: number,
    n: number,
    h: number,
    w: number,
    ci: number,
    oh: number,
    ow: number,
    co: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    pt: number,
    pl: number,
  ): void;
  im2col_transposed(
    src: number,
    dst: number,
    n: number,
    h: number,
    w: number,
    ci: number,
    oh: number,
    ow: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    pt: number,
    pl: number,
    ranges: number,
  ): void;
  interleave_phase(
    src: number,
    dst: number,
    n: number,
    h: number,
    w: number,
    ci: number,
    qh: number,
    qw: number,
    sh: number,
    sw: number,
    rh: number,
    rw: number,
  ): void;
}

/** The loops plus what calling them needs: tensor addresses and scratch memory. */
export interface SimdKernels {
  fn: SimdExports;
  /** Byte offset of a tensor's data in the memory. */
  address(t: Info): number;
  /**
   * Runs `body` with scratch buffers of the given byte sizes (16-byte aligned, freed after);
   * `view` reads or writes them (make views after every allocation: the memory may grow).
   */
  scratch<T>(bytes: number[], body: (ptrs: number[]) => T): T;
  /** The memory's current buffer. */
  buffer(): ArrayBufferLike;
}

/** Forces the JavaScript loops (tests compare both paths). */
export const simdSwitch = { disabled: false };

const cache = new WeakMap<object, SimdKernels | null>();

function decode(base64: string): Uint8Array<ArrayBuffer> {
  const s = atob(base64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** The SIMD loops bound to `backend`'s memory, or null where they cannot be (see module doc). */
export function simdKernels(backend: unknown): SimdKernels | null {
  if (simdSwitch.disabled) return null;
  const b = backend as WasmBackendLike;
  if (!b || typeof b !== "object" || !b.wasm) return null;
  if (cache.has(b)) return cache.get(b)!;
  let result: SimdKernels | null = null;
  try {
    const memory = b.wasm.wasmMemory ?? b.wasm.asm?.memory;
    if (memory instanceof WebAssembly.Memory) {
      const shared = typeof SharedArrayBuffer !== "undefined" &&
        memory.buffer instanceof SharedArrayBuffer;
      const module = new WebAssembly.Module(decode(shared ? SIMD_WASM.shared : SIMD_WASM.plain));
      const instance = new WebAssembly.Instance(module, { env: { memory } });
      const wasm = b.wasm;
      result = {
        fn: instance.exports as unknown as SimdExports,
        address: (t) => {
          const data = b.dataIdMap.get(t.dataId);
          if (!data) throw new Error("simd: tensor is not on the wasm backend");
          return data.memoryOffset;
        },
        scratch: (bytes, body) => {
          const ptrs = bytes.map((n) => wasm._malloc(n + 16));
          try {
            return body(ptrs.map((p) => (p + 15) & ~15));
          } finally {
            for (const p of ptrs) wasm._free(p);
          }
        },
        buffer: () => memory.buffer,
      };
    }
  } catch {
    result = null; // no SIMD here (or an unexpected build): the JavaScript loops serve
  }
  cache.set(b, result);
  return result;
}
