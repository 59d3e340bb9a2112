/**
 * Runs a function while every synchronous tensor read (`dataSync`, `arraySync`, `bufferSync`)
 * throws: what WebGPU under Deno does, checked on any backend. Reads inside kernels (the
 * backend's own business) are not affected.
 */
import { tf } from "../../arb/tf.ts";

/** Calls `fn` with synchronous reads forbidden; restores them afterwards. */
export function withoutSyncReads<T>(fn: () => T): T {
  const proto = tf.Tensor.prototype as unknown as Record<string, unknown>;
  const names = ["dataSync", "arraySync", "bufferSync"];
  const saved = names.map((k) => proto[k]);
  for (const k of names) {
    proto[k] = () => {
      throw new Error(`synchronous read (${k}) where none is allowed`);
    };
  }
  try {
    return fn();
  } finally {
    names.forEach((k, i) => (proto[k] = saved[i]));
  }
}
