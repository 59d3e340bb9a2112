/**
 * `deno task bench conv`: what limits a training step on wasm, layer by layer. For every distinct
 * 3x3 convolution of the convnet (batch 256, 28x28x1) and of ResNet-18 (batch 64, 32x32x3,
 * CIFAR stem), the achieved GFLOP/s of the forward conv, the input gradient and the filter
 * gradient (which form it takes, and the im2col form's matmul apart, its operand dy packed afresh
 * as XNNPACK weights as in training, so that the rest is the im2col fill), against the
 * XNNPACK peak measured here (a 1024^3 matmul and a 64-channel 3x3 conv at 32x32). Threads:
 * `ARB_WASM_THREADS` (default: the core count). `--only convnet|resnet18`. The best of a few
 * runs of each, so that other processes on a shared machine disturb it less.
 */
import { tf } from "../arb/tf.ts";
import { selectBackend } from "../arb/backend.ts";
import { DIRECT_MAX_CHANNELS, tiledTuning } from "../arb/kernels/conv_filter_grad.ts";

type Layer = { name: string; n: number; hw: number; ci: number; co: number; stride: number };

const CONVNET: Layer[] = [
  { name: "conv1 1->16", n: 256, hw: 28, ci: 1, co: 16, stride: 1 },
  { name: "conv2 16->32 s2", n: 256, hw: 28, ci: 16, co: 32, stride: 2 },
  { name: "conv3 32->64 s2", n: 256, hw: 14, ci: 32, co: 64, stride: 2 },
  { name: "conv4 64->128 s2", n: 256, hw: 7, ci: 64, co: 128, stride: 2 },
];

/** ResNet-18 CIFAR: each distinct 3x3 conv and how often one step runs it per view. */
const RESNET18: (Layer & { count: number })[] = [
  { name: "stem 3->64", n: 64, hw: 32, ci: 3, co: 64, stride: 1, count: 1 },
  { name: "layer1 64->64", n: 64, hw: 32, ci: 64, co: 64, stride: 1, count: 4 },
  { name: "layer2.0 64->128 s2", n: 64, hw: 32, ci: 64, co: 128, stride: 2, count: 1 },
  { name: "layer2 128->128", n: 64, hw: 16, ci: 128, co: 128, stride: 1, count: 3 },
  { name: "layer3.0 128->256 s2", n: 64, hw: 16, ci: 128, co: 256, stride: 2, count: 1 },
  { name: "layer3 256->256", n: 64, hw: 8, ci: 256, co: 256, stride: 1, count: 3 },
  { name: "layer4.0 256->512 s2", n: 64, hw: 8, ci: 256, co: 512, stride: 2, count: 1 },
  { name: "layer4 512->512", n: 64, hw: 4, ci: 512, co: 512, stride: 1, count: 3 },
];

/** Best wall time (ms) of each function over `reps` interleaved rounds. */
function best(reps: number, fns: Record<string, () => tf.Tensor>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of Object.values(fns)) f().dispose();
  for (let r = 0; r < reps; r++) {
    for (const [k, f] of Object.entries(fns)) {
      const t0 = performance.now();
      const t = f();
      t.dataSync();
      out[k] = Math.min(out[k] ?? Infinity, performance.now() - t0);
      t.dispose();
    }
  }
  return out;
}

type Pad = [[number, number], [number, number], [number, number], [number, number]];

/** Times one layer; returns its line and the step milliseconds it accounts for per view. */
function timeLayer(l: Layer, reps: number): { line: string; ms: Record<string, number> } {
  const x = tf.randomNormal([l.n, l.hw, l.hw, l.ci]) as tf.Tensor4D;
  const w = tf.randomNormal([3, 3, l.ci, l.co]) as tf.Tensor4D;
  const pad: Pad = [[0, 0], [1, 1], [1, 1], [0, 0]];
  const y = tf.conv2d(x, w, l.stride, pad);
  const dy = tf.randomNormal(y.shape) as tf.Tensor4D;
  const rows = 9 * l.ci, p = y.size / l.co;
  const pT = tf.randomNormal([1, rows, p]), dy3 = tf.randomNormal([1, p, l.co]);
  // a new dy each time, as in training: XNNPACK caches its packed weights per tensor
  const pool = Array.from({ length: reps + 1 }, () => tf.add(dy3, 0));
  const fresh = [...pool];
  const attrs = { strides: l.stride, pad, dataFormat: "NHWC", dimRoundingMode: undefined };
  const run = (name: string, inputs: tf.NamedTensorMap, extra: Record<string, unknown>) =>
    tf.engine().runKernel(
      name,
      inputs,
      { ...attrs, ...extra } as unknown as tf.NamedAttrMap,
    ) as tf.Tensor;
  const t = best(reps, {
    forward: () => tf.conv2d(x, w, l.stride, pad),
    inputGrad: () => run("Conv2DBackpropInput", { dy, filter: w }, { inputShape: x.shape }),
    filterGrad: () => run("Conv2DBackpropFilter", { x, dy }, { filterShape: w.shape }),
    filterMatmul: () => tf.matMul(pT, fresh.pop()!),
  });
  tf.dispose([x, w, y, dy, pT, dy3, ...pool]);
  const gflop = (2 * y.size * 9 * l.ci) / 1e9;
  const gf = (ms: number) => `${(gflop / (ms / 1000)).toFixed(1).padStart(5)}`;
  const tiled = l.ci % 4 === 0 && l.co % 8 === 0 && l.n >= tiledTuning.minBatch;
  const direct = !tiled && l.ci <= DIRECT_MAX_CHANNELS && l.co % 4 === 0;
  const fill = Math.max(t.filterGrad - t.filterMatmul, 0);
  const how = tiled
    ? `SIMD register tiles; im2col + XNNPACK matmul alone: ${gf(t.filterMatmul).trim()}`
    : direct
    ? "direct SIMD, no im2col"
    : `its matmul ${gf(t.filterMatmul).trim()}, im2col fill ${fill.toFixed(1)} ms`;
  const line = `${l.name.padEnd(21)} ${gflop.toFixed(2)} GFLOP | forward ${gf(t.forward)} | ` +
    `input grad ${gf(t.inputGrad)} | filter grad ${gf(t.filterGrad)} (${how}) GFLOP/s`;
  return { line, ms: t };
}

/** Runs the per-layer convolution benchmark and prints it. */
export async function benchConv(args: string[] = []): Promise<void> {
  const i = args.indexOf("--only");
  const only = i >= 0 ? args[i + 1] : undefined;
  const { device } = await selectBackend("wasm", { log: () => {} });
  console.log(`wasm convolutions, ${device} (best of a few runs; shared machine: noisy)`);
  const a = tf.randomNormal([1024, 1024]), b = tf.randomNormal([1024, 1024]);
  const peak = best(3, { matmul: () => tf.matMul(a, b) });
  tf.dispose([a, b]);
  const big = timeLayer({ name: "", n: 64, hw: 32, ci: 64, co: 64, stride: 1 }, 3).ms;
  const bigGflop = (2 * 64 * 32 * 32 * 9 * 64 * 64) / 1e9;
  console.log(
    `XNNPACK peak here: matmul 1024^3 ${(2.147 / (peak.matmul / 1000)).toFixed(1)} GFLOP/s, ` +
      `3x3 conv 64->64 at 32x32 x64 ${(bigGflop / (big.forward / 1000)).toFixed(1)} GFLOP/s`,
  );
  if (only !== "resnet18") {
    console.log("convnet (batch 256, 28x28x1):");
    for (const l of CONVNET) console.log("  " + timeLayer(l, 5).line);
  }
  if (only !== "convnet") {
    console.log("resnet18 (batch 64, 32x32x3, CIFAR stem; 1x1 shortcuts not listed):");
    let total = 0;
    const parts = { forward: 0, inputGrad: 0, filterGrad: 0 };
    for (const l of RESNET18) {
      const r = timeLayer(l, 2);
      console.log(`  ${r.line} x${l.count}`);
      for (const k of Object.keys(parts) as (keyof typeof parts)[]) {
        parts[k] += r.ms[k] * l.count;
        total += r.ms[k] * l.count;
      }
    }
    console.log(
      `  3x3 convs of one view: ${(total / 1000).toFixed(2)} s (forward ${
        (parts.forward / 1000).toFixed(2)
      }, input grad ${(parts.inputGrad / 1000).toFixed(2)}, filter grad ${
        (parts.filterGrad / 1000).toFixed(2)
      }); two views per step`,
    );
  }
}

if (import.meta.main) await benchConv(Deno.args);
