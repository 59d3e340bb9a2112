/**
 * Chooses the tfjs backend a run computes on, and says which one and why.
 *
 * Order for `auto`: tfjs-node-gpu / tfjs-node (native TensorFlow) when importable; WebGPU when
 * the adapter is a real GPU (not a fallback/software adapter such as lavapipe); wasm; cpu.
 * tfjs-node is an optional dependency (it downloads libtensorflow while installing, which fails
 * on machines without internet), so it is imported through a specifier that is only resolved
 * when asked for: add it with `deno add npm:@tensorflow/tfjs-node@4.22.0` (or `-gpu`) and
 * `deno install --allow-scripts` to make it available.
 * The wasm backend runs multi-threaded (`wasm_threads.ts`) with `ARB_WASM_THREADS` threads
 * (default: the logical core count) when it is selected here before its first use.
 *
 * The choice is logged as one short line; the full reasons (every probe's error) are in
 * `BackendChoice.reason`, and logged too with `verbose` or `ARB_VERBOSE=1`.
 */
import { tf } from "./tf.ts";
import { enableWasmThreads, wasmThreadsCount } from "./wasm_threads.ts";

import { BACKEND_PREFERENCES, type BackendPreference } from "./backend_names.ts";

/** All accepted preferences and their type (defined in `backend_names.ts`, which loads nothing). */
export { BACKEND_PREFERENCES, type BackendPreference };

/** The backend in use, for run metadata. */
export interface BackendChoice {
  /** tfjs backend name: `tensorflow`, `webgpu`, `wasm` or `cpu`. */
  backend: string;
  /** Human-readable device description (adapter, threads, package). */
  device: string;
  /** Why this backend was chosen (and why better ones were not), in full. */
  reason: string;
}

interface Probe {
  ok: boolean;
  device: string;
  why: string;
  /** A few words for the one-line log: "not installed", "software adapter", ... */
  short: string;
  activate: () => Promise<void>;
}

/** Longest backend log line (the device name is shortened to fit). */
const MAX_LOG_LINE = 150;

// Kept in variables so that neither `deno check` nor `deno install` tries to resolve them.
const TFJS_NODE_SPECIFIERS = ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"];
const WEBGPU_SPECIFIER = "@tensorflow/tfjs-backend-webgpu";

const HOW_TO: Record<string, string> = {
  tensorflow:
    "install it with `deno add npm:@tensorflow/tfjs-node@4.22.0` (or `npm:@tensorflow/tfjs-node-gpu@4.22.0` with CUDA) and `deno install --allow-scripts` on a machine with internet access (it downloads libtensorflow)",
  webgpu:
    "run on a machine whose Deno exposes `navigator.gpu` with a GPU adapter (on Linux: a Vulkan driver, e.g. Debian's `mesa-vulkan-drivers` for a software adapter)",
  wasm:
    "reinstall dependencies (`deno install`): the tfjs wasm binaries ship in npm:@tensorflow/tfjs-backend-wasm",
  cpu: "the cpu backend ships with tfjs and should always be available; reinstall dependencies",
};

async function probeTensorflow(): Promise<Probe> {
  const errors: string[] = [];
  let installed = false;
  for (const spec of TFJS_NODE_SPECIFIERS) {
    try {
      await import(spec);
      installed = true;
      if (tf.findBackend("tensorflow") || tf.findBackendFactory("tensorflow")) {
        return {
          ok: true,
          device: `native TensorFlow via ${spec}`,
          why: `${spec} is importable`,
          short: spec,
          activate: () => activate("tensorflow"),
        };
      }
      errors.push(`${spec} imported but registered no "tensorflow" backend`);
    } catch (e) {
      const message = firstLine(e);
      if (!/not a dependency|Cannot find|not found|Unable to load|resolve/i.test(message)) {
        installed = true;
      }
      errors.push(`${spec}: ${message}`);
    }
  }
  return {
    ok: false,
    device: "",
    why: errors.join("; "),
    short: installed ? "failed to load" : "not installed",
    activate: async () => {},
  };
}

interface AdapterLike {
  isFallbackAdapter?: boolean;
  info?: { isFallbackAdapter?: boolean; description?: string; vendor?: string; device?: string };
}

let runtimeDir: string | null = null;

/**
 * Requests a WebGPU adapter (null when there is none). On Linux, the Vulkan loader's Wayland
 * probe prints "XDG_RUNTIME_DIR is invalid or not set" to stderr on every request when that
 * variable is unset (containers, CI); it is pointed at a private empty folder first (removed at
 * exit), which silences the probe and changes nothing else. Throws when the request fails.
 */
export async function requestWebgpuAdapter(): Promise<unknown | null> {
  const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  if (!gpu) return null;
  if (Deno.build.os === "linux" && !Deno.env.get("XDG_RUNTIME_DIR") && runtimeDir === null) {
    runtimeDir = await Deno.makeTempDir({ prefix: "arb-xdg-runtime-" });
    await Deno.chmod(runtimeDir, 0o700);
    Deno.env.set("XDG_RUNTIME_DIR", runtimeDir);
    const dir = runtimeDir;
    globalThis.addEventListener("unload", () => {
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch { /* already gone */ }
    });
  }
  return await gpu.requestAdapter();
}

async function probeWebgpu(): Promise<Probe & { fallback: boolean }> {
  const none = (why: string, short: string) => ({
    ok: false,
    fallback: false,
    device: "",
    why,
    short,
    activate: async () => {},
  });
  if (!(navigator as unknown as { gpu?: unknown }).gpu) {
    return none("navigator.gpu is not available in this runtime", "no navigator.gpu");
  }
  let adapter: AdapterLike | null;
  try {
    adapter = (await requestWebgpuAdapter()) as AdapterLike | null;
  } catch (e) {
    return none(`requestAdapter failed: ${firstLine(e)}`, "adapter request failed");
  }
  if (!adapter) return none("no WebGPU adapter (no Vulkan/Metal/DX12 driver found)", "no adapter");
  const info = adapter.info ?? {};
  const fallback = Boolean(adapter.isFallbackAdapter ?? info.isFallbackAdapter);
  const name = info.description || [info.vendor, info.device].filter(Boolean).join(" ") ||
    "unknown adapter";
  return {
    ok: true,
    fallback,
    device: `WebGPU ${name}${fallback ? " (fallback adapter, runs on the CPU)" : ""}`,
    why: fallback ? `the WebGPU adapter ${name} is a fallback (software) adapter` : `GPU ${name}`,
    short: fallback ? "software adapter" : name,
    activate: async () => {
      await import(WEBGPU_SPECIFIER);
      await activate("webgpu");
    },
  };
}

/** Threads for the wasm backend: `ARB_WASM_THREADS`, else the number of logical cores. */
function wantedWasmThreads(explicit?: number): number {
  if (explicit !== undefined) return explicit;
  const env = Deno.env.get("ARB_WASM_THREADS");
  if (env !== undefined && env !== "") {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) {
      throw new Error(`ARB_WASM_THREADS must be a positive integer, got "${env}"`);
    }
    return n;
  }
  return navigator.hardwareConcurrency || 1;
}

function probeWasm(threads: number, log: (m: string) => void): Probe {
  const ok = tf.findBackendFactory("wasm") !== null;
  const probe: Probe = {
    ok,
    device: "WebAssembly SIMD (XNNPACK)",
    why: ok ? "wasm backend registered" : "wasm backend not registered",
    short: ok ? "registered" : "not registered",
    activate: async () => {
      await enableWasmThreads(threads, log);
      await activate("wasm");
      const n = wasmThreadsCount();
      probe.device = `WebAssembly SIMD (XNNPACK), ${n} thread${n === 1 ? "" : "s"}`;
    },
  };
  return probe;
}

function probeCpu(): Probe {
  return {
    ok: true,
    device: "plain JavaScript",
    why: "always available",
    short: "always available",
    activate: () => activate("cpu"),
  };
}

async function activate(name: string): Promise<void> {
  const ok = await tf.setBackend(name);
  await tf.ready();
  if (!ok || tf.getBackend() !== name) {
    throw new Error(`tfjs backend "${name}" failed to initialise`);
  }
}

function firstLine(e: unknown): string {
  return String(e instanceof Error ? e.message : e).split("\n")[0];
}

/**
 * Selects and initialises a tfjs backend. `auto` picks the fastest available one; an explicit
 * choice that is unavailable throws an error saying how to get it.
 *
 * @example
 * const { backend, device } = await selectBackend("auto");
 */
export async function selectBackend(
  preference: BackendPreference = "auto",
  options: {
    log?: (message: string) => void;
    /** wasm threads (default `ARB_WASM_THREADS` or the logical core count; 1 = single). */
    wasmThreads?: number;
    /** Also log the full reasons (default: `ARB_VERBOSE=1`). */
    verbose?: boolean;
  } = {},
): Promise<BackendChoice> {
  const log = options.log ?? ((m: string) => console.error(m));
  const verbose = options.verbose ?? Deno.env.get("ARB_VERBOSE") === "1";
  const threads = wantedWasmThreads(options.wasmThreads);
  if (!BACKEND_PREFERENCES.includes(preference)) {
    throw new Error(
      `unknown backend "${preference}": choose one of ${BACKEND_PREFERENCES.join(", ")}`,
    );
  }
  if (preference !== "auto") {
    const probe = preference === "tensorflow"
      ? await probeTensorflow()
      : preference === "webgpu"
      ? await probeWebgpu()
      : preference === "wasm"
      ? probeWasm(threads, log)
      : probeCpu();
    if (!probe.ok) {
      throw new Error(
        `backend "${preference}" is not available (${probe.why}); to use it, ${HOW_TO[preference]}`,
      );
    }
    await probe.activate();
    const choice = { backend: preference, device: probe.device, reason: "asked for explicitly" };
    log(logLine(choice.backend, choice.device, "as asked"));
    return choice;
  }
  const skipped: { name: string; probe: Probe; full: string }[] = [];
  const finish = (backend: string, probe: Probe) =>
    done(backend, probe, skipped, verbose ? log : null, log);
  const tfn = await probeTensorflow();
  if (tfn.ok) return finish("tensorflow", tfn);
  skipped.push({ name: "tensorflow", probe: tfn, full: `tensorflow unavailable (${tfn.why})` });
  const wg = await probeWebgpu();
  if (wg.ok && !wg.fallback) return finish("webgpu", wg);
  skipped.push({
    name: "webgpu",
    probe: wg,
    full: `webgpu ${wg.ok ? "skipped: " : "unavailable: "}${wg.why}`,
  });
  const wasm = probeWasm(threads, log);
  if (wasm.ok) return finish("wasm", wasm);
  skipped.push({ name: "wasm", probe: wasm, full: `wasm unavailable (${wasm.why})` });
  return finish("cpu", probeCpu());
}

/** `backend: NAME (DEVICE); NOTE`, the device shortened so the line stays short. */
function logLine(backend: string, device: string, note: string): string {
  const room = MAX_LOG_LINE - `backend: ${backend} (); ${note}`.length;
  const dev = device.length <= room ? device : `${device.slice(0, Math.max(room - 3, 8))}...`;
  return `backend: ${backend} (${dev}); ${note}`;
}

async function done(
  backend: string,
  probe: Probe,
  skipped: { name: string; probe: Probe; full: string }[],
  verboseLog: ((m: string) => void) | null,
  log: (m: string) => void,
): Promise<BackendChoice> {
  await probe.activate();
  const reason = [`best available: ${probe.why}`, ...skipped.map((s) => s.full)].join("; ");
  const not = skipped.map((s) => `${s.name}: ${s.probe.short}`).join(", ");
  log(logLine(backend, probe.device, not ? `not ${not}` : "best available"));
  verboseLog?.(`backend choice in full: ${reason}`);
  return { backend, device: probe.device, reason };
}
