/**
 * Multi-threaded wasm backend under Deno.
 *
 * tfjs-backend-wasm ships a pthreads build (XNNPACK over a thread pool) but never uses it in
 * Node-like runtimes, and as shipped it cannot start under Deno: its pthread workers are
 * created from a blob URL that `worker_threads` rejects, the worker script assigns read-only
 * globals (`location`), and its C++ sizes the pool as `cpus / 2` (assuming hyper-threads), i.e.
 * one thread on a 2-core machine. This module instantiates that build itself:
 * - the worker script is written to a temporary `.cjs` file (a real path, CommonJS), with its
 *   global assignments made through `defineProperty`;
 * - the main script the workers load is the package's own `wasm-out/*.js` file on disk;
 * - `os.cpus()` reports twice the wanted thread count while the module initialises;
 * - the `wasm` backend factory is re-registered to build `BackendWasm` on this module (the
 *   registered kernels, ours included, bind to it as usual), and the workers are `unref`ed so
 *   they do not keep the process alive.
 * Results are bitwise the same as single-threaded: XNNPACK splits outputs, not reductions.
 */
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import * as wasmPackage from "@tensorflow/tfjs-backend-wasm";
import { tf } from "./tf.ts";

interface EmscriptenModule {
  cwrap(name: string, ret: string | null, args: string[]): (...a: unknown[]) => unknown;
  PThread?: { unusedWorkers: { unref?(): void }[]; runningWorkers: { unref?(): void }[] };
  tfjs?: Record<string, unknown>;
}

let installed: Promise<number> | null = null;

/**
 * Makes the `wasm` backend multi-threaded with `threads` threads (before it initialises).
 * Returns the thread count the backend will use: 1 when `threads <= 1`, when the backend is
 * already initialised, or when the threaded build cannot start here (`why` tells).
 */
export function enableWasmThreads(
  threads: number,
  log: (message: string) => void = () => {},
): Promise<number> {
  installed ??= install(threads, log).catch((e) => {
    log(`wasm threads unavailable, using 1 thread: ${(e as Error).message}`);
    return 1;
  });
  return installed;
}

/** Thread count of the initialised wasm backend (1 before initialisation). */
export function wasmThreadsCount(): number {
  try {
    return (wasmPackage as unknown as { getThreadsCount(): number }).getThreadsCount();
  } catch {
    return 1;
  }
}

async function install(threads: number, log: (message: string) => void): Promise<number> {
  if (!(threads > 1)) return 1;
  if (tf.findBackend("wasm")) {
    log("wasm backend already initialised single-threaded; threads not enabled");
    return 1;
  }
  if (typeof SharedArrayBuffer === "undefined") throw new Error("no SharedArrayBuffer");
  const main = import.meta.resolve("@tensorflow/tfjs-backend-wasm");
  const out = fileURLToPath(new URL("../wasm-out/", main));
  const require = createRequire(import.meta.url);
  const factory = require(`${out}tfjs-backend-wasm-threaded-simd.js`) as (
    config: Record<string, unknown>,
  ) => Promise<EmscriptenModule>;
  const { wasmWorkerContents } = require(`${out}tfjs-backend-wasm-threaded-simd.worker.js`) as {
    wasmWorkerContents: string;
  };
  const patched = wasmWorkerContents
    .replace(/\n/g, "\\n")
    .replace(
      "Object.assign(global,",
      "((t,s)=>{for(const k in s)Object.defineProperty(t,k,{value:s[k],writable:true,configurable:true})})(global,",
    );
  if (patched.indexOf("defineProperty(t,k") < 0) {
    throw new Error("unexpected worker script in tfjs-backend-wasm (patch point not found)");
  }
  const workerPath = await Deno.makeTempFile({ prefix: "arb-tfjs-wasm-", suffix: ".worker.cjs" });
  await Deno.writeTextFile(workerPath, patched);
  globalThis.addEventListener("unload", () => {
    try {
      Deno.removeSync(workerPath);
    } catch { /* already gone */ }
  });
  const os = require("os") as { cpus(): unknown[] };
  const realCpus = os.cpus;
  os.cpus = () => Array.from({ length: 2 * threads }, () => realCpus()[0]);
  let mod: EmscriptenModule;
  try {
    mod = await factory({
      locateFile: (path: string) =>
        path.endsWith(".worker.js")
          ? workerPath
          : path.endsWith(".wasm")
          ? `${out}tfjs-backend-wasm-threaded-simd.wasm`
          : `${out}${path}`,
      mainScriptUrlOrBlob: `${out}tfjs-backend-wasm-threaded-simd.js`,
    });
  } finally {
    os.cpus = realCpus;
  }
  mod.tfjs = {
    init: mod.cwrap("init", null, []),
    initWithThreadsCount: mod.cwrap("init_with_threads_count", null, ["number"]),
    getThreadsCount: mod.cwrap("get_threads_count", "number", []),
    registerTensor: mod.cwrap("register_tensor", null, ["number", "number", "number"]),
    disposeData: mod.cwrap("dispose_data", null, ["number"]),
    dispose: mod.cwrap("dispose", null, []),
  };
  const pkg = wasmPackage as unknown as {
    setThreadsCount(n: number): void;
    BackendWasm: new (m: EmscriptenModule) => tf.KernelBackend;
  };
  pkg.setThreadsCount(threads);
  tf.removeBackend("wasm");
  tf.registerBackend("wasm", () => {
    const backend = new pkg.BackendWasm(mod);
    for (const w of [...mod.PThread!.unusedWorkers, ...mod.PThread!.runningWorkers]) w.unref?.();
    return backend;
  }, 2);
  return threads;
}
