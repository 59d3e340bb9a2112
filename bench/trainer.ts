/**
 * `deno task bench trainer [backends...]`: images per second (two views each) of one ARB
 * training step (forward and backward of both views through encoder + projector, the ARB
 * loss, a LARS update; augmentation excluded) for the small convnet at batch 256 on 28x28x1 and
 * ResNet-18 at batch 64 on 32x32x3, with the achieved GFLOP/s (convolutions and linear layers
 * counted: forward multiply-adds x 2 FLOPs x 3 for forward + both backward products, x 2
 * views) and the kernels that take the time. Default backend: wasm; also `cpu`, `webgpu`
 * (convnet only unless `--all`), as arguments of `deno run -A bench/trainer.ts` or in
 * `ARB_BENCH_BACKENDS=wasm,cpu,webgpu`. `--convnet-width N` / `--convnet-projector SPEC` explore;
 * `--only convnet|resnet18` (or `ARB_BENCH_ONLY`) times one workload.
 * Timings on a shared machine are noisy: the best of the timed steps is reported, with the
 * load average and the CPU seconds the step used (all threads; less sensitive to other load).
 */
import { tf } from "../arb/tf.ts";
import { Rng } from "../arb/rng.ts";
import { selectBackend } from "../arb/backend.ts";
import { buildEncoder, buildProjector, flopCounter } from "../arb/models/mod.ts";
import type { EncoderSpec } from "../arb/models/mod.ts";
import { losses } from "../arb/losses/mod.ts";
import { LARS, splitParamGroups } from "../arb/optim/mod.ts";

interface Workload {
  name: string;
  spec: EncoderSpec;
  projector: string;
  batch: number;
  hw: number;
  warmup: number;
  steps: number;
}

/** CPU seconds this process has used, all threads (Linux /proc; NaN elsewhere). */
function cpuSeconds(): number {
  try {
    const stat = Deno.readTextFileSync("/proc/self/stat");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in 1/100 s
  } catch {
    return NaN;
  }
}

/** The 1-minute load average and the core count, to read the timings by (Linux). */
function machineLoad(): string {
  try {
    const load = Deno.readTextFileSync("/proc/loadavg").split(" ")[0];
    return `load average ${load} on ${navigator.hardwareConcurrency} cores`;
  } catch {
    return `${navigator.hardwareConcurrency} cores`;
  }
}

const WORKLOADS: Workload[] = [
  {
    name: "convnet b256 28x28x1",
    spec: { arch: "convnet", stem: "cifar", inChannels: 1 },
    projector: "512-512-128",
    batch: 256,
    hw: 28,
    warmup: 2,
    steps: 3,
  },
  {
    name: "resnet18 b64 32x32x3",
    spec: { arch: "resnet18", stem: "cifar", inChannels: 3 },
    projector: "2048-2048-256",
    batch: 64,
    hw: 32,
    warmup: 1,
    steps: 2,
  },
];

/** Time spent per kernel name (top level only), by wrapping the backend's kernel functions. */
function profileKernels(backend: string): { take(): [string, number][] } {
  const times = new Map<string, number>();
  let depth = 0;
  for (const k of tf.getKernelsForBackend(backend)) {
    const orig = k.kernelFunc;
    (k as { kernelFunc: tf.KernelFunc }).kernelFunc = (args) => {
      const t0 = performance.now();
      depth++;
      try {
        return orig(args);
      } finally {
        depth--;
        if (depth === 0) {
          times.set(k.kernelName, (times.get(k.kernelName) ?? 0) + performance.now() - t0);
        }
      }
    };
  }
  return {
    take() {
      const rows = [...times.entries()].sort((a, b) => b[1] - a[1]);
      times.clear();
      return rows;
    },
  };
}

async function run(w: Workload, profile: { take(): [string, number][] } | null) {
  const rng = new Rng(0);
  const encoder = buildEncoder(w.spec, rng.fork());
  const projector = buildProjector(w.projector, encoder.featureDim, rng.fork());
  const c = w.spec.inChannels;
  const x1 = tf.randomUniform([w.batch, w.hw, w.hw, c], -1, 1, "float32", 1) as tf.Tensor4D;
  const x2 = tf.randomUniform([w.batch, w.hw, w.hw, c], -1, 1, "float32", 2) as tf.Tensor4D;
  const vars = [...encoder.variables, ...projector.variables];
  const lars = new LARS(splitParamGroups(vars, { weightDecay: 1e-4 }));
  flopCounter.macs = 0;
  flopCounter.enabled = true;
  tf.tidy(() => projector.apply(encoder.apply(x1, false), false));
  flopCounter.enabled = false;
  const stepFlops = 2 * 3 * 2 * flopCounter.macs;
  const lossRng = new Rng(1);
  const step = async () => {
    const { value, grads } = tf.variableGrads(() => {
      const z1 = projector.apply(encoder.apply(x1, true), true);
      const z2 = projector.apply(encoder.apply(x2, true), true);
      // whitening "auto": host eigh, or Newton-Schulz on webgpu (no synchronous reads there)
      return losses.arb(z1, z2, { rng: lossRng });
    }, vars);
    await value.data();
    lars.step(grads, { weights: 0.1, biases: 0.001 });
    tf.dispose([value, ...Object.values(grads)]);
  };
  // warm-up: kernel setup, heap growth, and the JIT of the host eigensolver
  for (let i = 0; i < w.warmup; i++) await step();
  profile?.take();
  let best = Infinity, bestCpu = Infinity;
  for (let i = 0; i < w.steps; i++) {
    const t0 = performance.now(), c0 = cpuSeconds();
    await step();
    await tf.ready();
    best = Math.min(best, (performance.now() - t0) / 1000);
    bestCpu = Math.min(bestCpu, cpuSeconds() - c0);
  }
  const kernels = profile?.take() ?? [];
  const total = kernels.reduce((s, [, ms]) => s + ms, 0);
  tf.dispose([x1, x2]);
  lars.dispose();
  encoder.dispose();
  projector.dispose();
  return {
    imagesPerSecond: w.batch / best,
    gflops: stepFlops / best / 1e9,
    stepSeconds: best,
    cpuSeconds: bestCpu,
    stepGflop: stepFlops / 1e9,
    top: kernels.slice(0, 6).map(([k, ms]) => `${k} ${((100 * ms) / total).toFixed(0)}%`),
  };
}

/** Runs the trainer benchmark on the given backends (default wasm) and prints a table. */
export async function benchTrainer(args: string[] = []): Promise<void> {
  // Optional overrides for exploration: --convnet-width N --convnet-projector SPEC
  const opt = (name: string) => {
    const i = args.indexOf(name);
    if (i < 0) return undefined;
    const v = args[i + 1];
    args = [...args.slice(0, i), ...args.slice(i + 2)];
    return v;
  };
  const width = opt("--convnet-width"), proj = opt("--convnet-projector");
  const only = opt("--only") ?? Deno.env.get("ARB_BENCH_ONLY");
  const all = args.includes("--all");
  args = args.filter((a) => a !== "--all");
  if (width) WORKLOADS[0].spec.width = Number(width);
  if (proj) WORKLOADS[0].projector = proj;
  const fromEnv = Deno.env.get("ARB_BENCH_BACKENDS")?.split(",").filter(Boolean) ?? [];
  const backends = args.length ? args : fromEnv.length ? fromEnv : ["wasm"];
  console.log(
    `one ARB training step, two views per image (best of a few; ${machineLoad()}: a shared ` +
      `machine makes it noisy; cpu = CPU seconds of all threads per step)`,
  );
  for (const backend of backends) {
    const choice = await selectBackend(backend as "wasm", { log: () => {} }).catch((e) => {
      console.log(`${backend}: skipped (${(e as Error).message.split(";")[0]})`);
      return null;
    });
    if (!choice) continue;
    const profile = profileKernels(backend);
    for (const w of WORKLOADS) {
      if (only && !w.name.startsWith(only)) continue;
      if (backend !== "wasm" && w.spec.arch === "resnet18" && !all) {
        console.log(
          `${backend.padEnd(6)} ${w.name.padEnd(22)} skipped (minutes per step; --all runs it)`,
        );
        continue;
      }
      const r = await run(w, profile);
      const note = backend === "webgpu" ? " [ARB whitening by Newton-Schulz on the device]" : "";
      console.log(
        `${backend.padEnd(6)} ${w.name.padEnd(22)} ${
          r.imagesPerSecond.toFixed(1).padStart(7)
        } img/s  ` +
          `${r.gflops.toFixed(1).padStart(5)} GFLOP/s  (step ${r.stepSeconds.toFixed(2)} s, cpu ` +
          `${r.cpuSeconds.toFixed(2)} s, ` +
          `${r.stepGflop.toFixed(1)} GFLOP)  time in: ${r.top.join(", ")}${note}`,
      );
    }
  }
}

if (import.meta.main) await benchTrainer(Deno.args);
