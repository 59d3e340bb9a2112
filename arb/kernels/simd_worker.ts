/**
 * The helper thread of `simd.ts`: instantiates the SIMD module on the same shared memory and runs
 * the half of a kernel call it is handed, synchronised through a control block of `Int32`s.
 * Protocol (indices into the control block): READY is set once instantiated; the main thread
 * writes FN (export index, -1 to stop), ARGC and ARGS, then bumps REQ; this thread runs the
 * call and copies REQ into DONE (ERR set when it threw).
 */
import { workerData } from "node:worker_threads";
import { CONTROL } from "./simd_control.ts";

const { bytes, memory, control } = workerData as {
  bytes: Uint8Array;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
};
const ctl = new Int32Array(control);
const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes as BufferSource), {
  env: { memory },
});
const fns = Object.values(instance.exports) as ((...args: number[]) => void)[];
Atomics.store(ctl, CONTROL.READY, 1);
Atomics.notify(ctl, CONTROL.READY);
let seen = 0;
for (;;) {
  Atomics.wait(ctl, CONTROL.REQ, seen);
  const req = Atomics.load(ctl, CONTROL.REQ);
  if (req === seen) continue;
  seen = req;
  const fn = ctl[CONTROL.FN];
  if (fn < 0) break;
  const args = Array.from(ctl.subarray(CONTROL.ARGS, CONTROL.ARGS + ctl[CONTROL.ARGC]));
  try {
    fns[fn](...args);
    ctl[CONTROL.ERR] = 0;
  } catch {
    ctl[CONTROL.ERR] = 1;
  }
  Atomics.store(ctl, CONTROL.DONE, req);
  Atomics.notify(ctl, CONTROL.DONE);
}
