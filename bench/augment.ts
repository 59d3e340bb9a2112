/**
 * Augmentation benchmark (`deno task bench augment`): one view of a batch of 256 images at
 * 32x32x3 (CIFAR recipes and the linear-eval crop) and 28x28x1 (Fashion-MNIST recipes), on the
 * wasm and cpu backends; median wall-clock of a few runs, including the host parameter draws
 * and reading the result back. On a shared machine, read the figures as rough.
 */
import { tf } from "../arb/tf.ts";
import { Rng } from "../arb/rng.ts";
import { augment, type RecipeName, recipes } from "../arb/augment/mod.ts";
import { median } from "./lib/timing.ts";

/** Runs the augmentation benchmark and prints one line per figure (ms per view). */
export async function benchAugment(args: string[] = []): Promise<Record<string, number>> {
  const backends = args.length ? args : ["wasm", "cpu"];
  const cases: [RecipeName, [number, number, number, number], number[]][] = [
    ["cifarView1", [256, 32, 32, 3], [0.4914, 0.4822, 0.4465]],
    ["cifarView2", [256, 32, 32, 3], [0.4914, 0.4822, 0.4465]],
    ["cropFlip", [256, 32, 32, 3], [0.4914, 0.4822, 0.4465]],
    ["gray28View1", [256, 28, 28, 1], [0.286]],
    ["gray28View2", [256, 28, 28, 1], [0.286]],
  ];
  const out: Record<string, number> = {};
  for (const backend of backends) {
    await tf.setBackend(backend);
    await tf.ready();
    for (const [name, shape, mean] of cases) {
      const x = tf.randomUniform(shape, 0, 1, "float32", 1) as tf.Tensor4D;
      const norm = { mean, std: mean.map(() => 0.25) };
      const rng = new Rng(0);
      const runs = backend === "cpu" ? 3 : 7;
      const times: number[] = [];
      for (let r = 0; r <= runs; r++) {
        const t = performance.now();
        const y = augment(x, recipes[name], rng, norm);
        await y.data();
        y.dispose();
        if (r > 0) times.push(performance.now() - t); // first run warms up kernels
      }
      x.dispose();
      const ms = median(times);
      out[`${backend}.${name}`] = ms;
      console.log(
        `augment ${backend.padEnd(4)} ${name.padEnd(11)} batch ${shape.join("x")}: ${
          ms.toFixed(1)
        } ms/view ` +
          `(${(shape[0] / ms * 1000).toFixed(0)} images/s)`,
      );
    }
  }
  return out;
}

if (import.meta.main) await benchAugment(Deno.args);
