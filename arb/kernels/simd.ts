/**
 * Our WebAssembly SIMD loops (`simd.wat`) instantiated on the wasm backend's own memory, so
 * that they read and write tfjs tensors in place. JavaScript loops over the heap run at 2 to 5 ns
 * per element here; these run four lanes at a time. They are single-threaded (the main thread,
 * between tfjs kernels) and deterministic.
 *
 * The memory is the Emscripten module's: `wasmMemory` (threaded build, shared) or `asm.memory`
 * (single-threaded build). Where neither is found, {@link simdKernels} returns null and callers
 * use their JavaScript loops.
 *
 * On the threaded build a helper thread (`simd_worker.ts`, its own instance on the same shared
 * memory) takes half of each call made through `split`: while these loops run, XNNPACK's thread
 * pool is idle, so the second core would otherwise wait. Each half writes its own outputs or
 * partial sums, combined in a fixed order, so results do not depend on timing.
 */
import { tf } from "../tf.ts";
import { Worker } from "node:worker_threads";
import { SIMD_WASM } from "./simd_wasm.ts";
import { CONTROL } from "./simd_control.ts";

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
  conv_filter_grad_tiled(
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
    pcols: number,
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
  /**
   * Calls export `name` with `here` on this thread and `there` on the helper thread at once
   * (both here, one after the other, when there is no helper yet or at all; `there` empty:
   * only `here`).
   */
  split(name: keyof SimdExports, here: number[], there: number[]): void;
  /** Whether a helper thread takes half of the split calls (it starts asynchronously). */
  parallel(): boolean;
}

/** Starts the helper thread on a shared memory; its control block, or null. */
function startHelper(bytes: Uint8Array, memory: WebAssembly.Memory): Int32Array | null {
  try {
    const control = new SharedArrayBuffer(4 * CONTROL.SIZE);
    const worker = new Worker(new URL("./simd_worker.ts", import.meta.url), {
      workerData: { bytes, memory, control },
    });
    worker.unref();
    worker.on("error", () => {}); // it then never reports ready: calls stay on this thread
    return new Int32Array(control);
  } catch {
    return null;
  }
}

/**
 * A malloc result as an unsigned byte address rounded up to 16 (Emscripten returns a signed i32,
 * negative past 2 GiB; bit operations would make it negative again).
 */
export function alignedAddress(p: number): number {
  return Math.ceil((p >>> 0) / 16) * 16;
}

/** Forces the JavaScript loops (tests compare both paths). */
export const simdSwitch = { disabled: false };

const cache = new WeakMap<object, SimdKernels | null>();

/** Helper threads to start: one when the wasm backend runs more than one thread. */
function helperThreads(b: WasmBackendLike): number {
  try {
    const tfjs = (b.wasm as { tfjs?: { getThreadsCount?(): number } }).tfjs;
    return (tfjs?.getThreadsCount?.() ?? 1) > 1 ? 1 : 0;
  } catch {
    return 0;
  }
}

/** Below this many elements a call is not split (the hand-off costs about 15 us); tests lower it. */
export const splitTuning = { minElements: 1 << 16 };

/**
 * Where to cut `count` units (rows, images) of `unitSize` elements into the two halves of a
 * split call: half (rounded down) when the work is large, else `count` (all on this thread). It
 * depends on the sizes only, so results are the same with or without the helper thread.
 */
export function splitPoint(count: number, unitSize: number): number {
  return count * unitSize >= splitTuning.minElements && count > 1 ? Math.floor(count / 2) : count;
}

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
      const bytes = decode(shared ? SIMD_WASM.shared : SIMD_WASM.plain);
      const module = new WebAssembly.Module(bytes);
      const instance = new WebAssembly.Instance(module, { env: { memory } });
      const wasm = b.wasm;
      const fn = instance.exports as unknown as SimdExports;
      const names = Object.keys(instance.exports);
      const ctl = shared && helperThreads(b) > 0 ? startHelper(bytes, memory) : null;
      let seq = 0;
      const ready = () => ctl !== null && Atomics.load(ctl, CONTROL.READY) === 1;
      result = {
        fn,
        address: (t) => {
          const data = b.dataIdMap.get(t.dataId);
          if (!data) throw new Error("simd: tensor is not on the wasm backend");
          return data.memoryOffset;
        },
        scratch: (bytes, body) => {
          const ptrs = bytes.map((n) => wasm._malloc(n + 16));
          try {
            // unsigned (addresses may pass 2^31), aligned by arithmetic, not bit operations
            return body(ptrs.map(alignedAddress));
          } finally {
            for (const p of ptrs) wasm._free(p);
          }
        },
        buffer: () => memory.buffer,
        parallel: ready,
        split: (name, here, there) => {
          const f = fn[name] as unknown as (...a: number[]) => void;
          if (there.length === 0) {
            f(...here);
            return;
          }
          if (!ready()) {
            f(...here);
            f(...there);
            return;
          }
          const c = ctl!;
          c[CONTROL.FN] = names.indexOf(name);
          c[CONTROL.ARGC] = there.length;
          c.set(there, CONTROL.ARGS);
          const req = ++seq;
          Atomics.store(c, CONTROL.REQ, req);
          Atomics.notify(c, CONTROL.REQ);
          try {
            f(...here);
          } finally {
            let done;
            while ((done = Atomics.load(c, CONTROL.DONE)) !== req) {
              Atomics.wait(c, CONTROL.DONE, done);
            }
          }
          if (c[CONTROL.ERR]) throw new Error(`simd: ${name} failed on the helper thread`);
        },
      };
    }
  } catch {
    result = null; // no SIMD here (or an unexpected build): the JavaScript loops serve
  }
  cache.set(b, result);
  return result;
}
