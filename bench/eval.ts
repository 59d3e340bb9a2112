/**
 * Evaluation benchmark (`deno task bench eval`; backend `wasm`, or `ARB_BENCH_BACKEND`): the cost of the linear evaluation
 * at CIFAR scale on cached features (50 000 x 512 train, 10 000 test, 100 classes): one
 * probe epoch at batch 256 with its test scoring, and weighted kNN (k = 200) over the whole
 * test split. Features are random (the cost does not depend on their values). Wall-clock on
 * whatever machine runs it; on a shared machine, read them as rough.
 */
import { Rng } from "../arb/rng.ts";
import { tf } from "../arb/tf.ts";
import type { Features } from "../arb/eval/features.ts";
import { weightedKnn } from "../arb/eval/knn.ts";
import { cachedSource, trainLinearProbe } from "../arb/eval/linear.ts";

function features(rng: Rng, n: number, dim: number, classes: number): Features {
  return {
    n,
    dim,
    data: Float32Array.from({ length: n * dim }, () => rng.normal()),
    labels: Int32Array.from({ length: n }, () => rng.int(classes)),
  };
}

/** Runs the evaluation benchmark and prints one line per figure. */
export async function benchEval(): Promise<Record<string, number>> {
  const backend = Deno.env.get("ARB_BENCH_BACKEND") ?? "wasm";
  await tf.setBackend(backend);
  await tf.ready();
  const rng = new Rng(0);
  const [dim, classes] = [512, 100];
  const train = features(rng, 50_000, dim, classes);
  const test = features(rng, 10_000, dim, classes);

  let t = performance.now();
  await trainLinearProbe(cachedSource(train, 256, 0), test, { classes, epochs: 1, seed: 0 });
  const epochS = (performance.now() - t) / 1000;

  const knnTrain = { ...train };
  t = performance.now();
  await weightedKnn(knnTrain, test, { classes });
  const knnS = (performance.now() - t) / 1000;

  console.log(`backend ${backend}`);
  console.log(
    `linear probe, cached features: ${epochS.toFixed(2)} s/epoch ` +
      `(${Math.round(train.n / epochS).toLocaleString("en-US")} samples/s; 100 epochs: ` +
      `${(epochS * 100 / 60).toFixed(1)} min)`,
  );
  console.log(`weighted kNN, 10 000 x 50 000: ${knnS.toFixed(2)} s`);
  return { probe_epoch_seconds: epochS, knn_seconds: knnS };
}

if (import.meta.main) await benchEval();
