/**
 * Baseline-loss benchmark (`deno task bench losses`): loss value plus gradients with respect
 * to both views, at the CIFAR recipes' sizes (batch 256; configs/recipes/*.yaml projector
 * widths), on wasm. Median wall-clock of a few runs; on a shared machine, rough.
 */
import { tf } from "../arb/tf.ts";
import { Rng } from "../arb/rng.ts";
import { losses, swavState } from "../arb/losses/mod.ts";
import { medianTime as time } from "./lib/timing.ts";

/** Milliseconds for value + both gradients of `losses[name]` on N x D views. */
function lossStep(name: string, n: number, d: number, options: Record<string, unknown>, runs = 3) {
  const z1 = tf.randomNormal([n, d], 0, 1, "float32", 1) as tf.Tensor2D;
  const z2 = tf.randomNormal([n, d], 0, 1, "float32", 2) as tf.Tensor2D;
  const f = (a: tf.Tensor, b: tf.Tensor) =>
    losses[name](a as tf.Tensor2D, b as tf.Tensor2D, options);
  const ms = time(runs, () =>
    tf.tidy(() => {
      const { value, grads } = tf.valueAndGrads(f)([z1, z2]);
      grads[0].dataSync();
      grads[1].dataSync();
      value.dataSync();
    }));
  tf.dispose([z1, z2]);
  return ms;
}

/** Runs the benchmark and prints one line per figure (ms). */
export async function benchLosses(): Promise<Record<string, number>> {
  await tf.setBackend("wasm");
  const out: Record<string, number> = {};
  const report = (key: string, label: string, ms: number) => {
    out[key] = ms;
    console.log(`${label.padEnd(52)} (wasm): ${ms.toFixed(1)} ms`);
  };
  report("simclr", "simclr N=256 D=256", lossStep("simclr", 256, 256, { temperature: 0.2 }));
  report("vicreg", "vicreg N=256 D=2048", lossStep("vicreg", 256, 2048, {}, 2));
  for (const cholesky of ["host", "device"]) {
    const options = { w_size: 128, rng: new Rng(0), cholesky };
    report(
      `wmse.${cholesky}`,
      `wmse N=256 D=64 w_size=128 cholesky=${cholesky}`,
      lossStep("wmse", 256, 64, options),
    );
  }
  const state = swavState({
    projectorDim: 128,
    rng: new Rng(1),
    params: { num_prototypes: 3000, queue_length: 3840, epoch_queue_starts: 0 },
  });
  const plain = { prototypes: state.lossOptions({ epoch: 0, step: 0 }).prototypes };
  report("swav", "swav N=256 D=128 K=3000", lossStep("swav", 256, 128, plain, 2));
  for (let i = 0; i < 15; i++) {
    const z = tf.randomNormal([256, 128]) as tf.Tensor2D;
    state.afterStep({ epoch: 0, step: i, z1: z, z2: z });
    z.dispose();
  }
  const queued = state.lossOptions({ epoch: 0, step: 15 });
  report("swav.queue", "swav N=256 D=128 K=3000 queue=3840", lossStep("swav", 256, 128, queued, 2));
  state.dispose();
  return out;
}

if (import.meta.main) await benchLosses();
