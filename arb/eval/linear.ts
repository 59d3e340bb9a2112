/**
 * The linear probe of the design: one linear layer on frozen features, softmax cross-entropy,
 * SGD with momentum 0.9 and weight decay 1e-4 (PyTorch semantics), learning rate 0.1 annealed
 * by a cosine over the epochs (stepped once per epoch, as `CosineAnnealingLR(opt, epochs)` in
 * the Barlow Twins `evaluate.py` the ARB code builds on), batch 256. After every epoch the
 * test split is scored; the result has the final epoch and the best epoch (the paper's figure).
 */
import { Rng } from "../rng.ts";
import { tf } from "../tf.ts";
import { SGD, warmupCosine } from "../optim/mod.ts";
import { epochRng } from "../data/loader.ts";
import type { Features } from "./features.ts";
import { addCounts, toPercent, type TopKCounts, topkCounts } from "./topk.ts";

/** One training batch of features (the caller of `epoch` disposes both tensors). */
export interface FeatureBatch {
  features: tf.Tensor2D;
  labels: tf.Tensor1D;
}

/** Where training features come from: cached arrays, or an encoder run per step. */
export interface TrainSource {
  n: number;
  dim: number;
  /** The batches of epoch `e` (their order depends only on the source's seed and `e`). */
  epoch(e: number): AsyncIterable<FeatureBatch>;
}

/** One epoch of the probe. */
export interface EpochReport {
  epoch: number;
  lr: number;
  /** Mean training cross-entropy over the epoch's batches. */
  trainLoss: number;
  /** Test accuracy (percent) after the epoch. */
  top1: number;
  top5: number;
}

/** Hyper-parameters of the probe (defaults are the design's). */
export interface LinearProbeOptions {
  classes: number;
  epochs: number;
  /** Initial learning rate (default 0.1). */
  lr?: number;
  /** Default 0.9. */
  momentum?: number;
  /** Default 1e-4 (weights and bias, as `torch.optim.SGD(fc.parameters(), ...)`). */
  weightDecay?: number;
  /** Seed of the weight initialisation. */
  seed: number;
  signal?: AbortSignal;
  /** Called after each epoch (e.g. to log metrics and checkpoint). */
  onEpoch?: (report: EpochReport, state: ProbeState) => void | Promise<void>;
  /** Resume from a state saved by `onEpoch` (training continues at `state.epoch + 1`). */
  resume?: ProbeState;
}

/** Everything needed to resume the probe after an epoch (host copies, plain data). */
export interface ProbeState {
  epoch: number;
  weight: Float32Array;
  bias: Float32Array;
  /** Momentum buffers by parameter (`weight`, `bias`); absent before the first step. */
  momentum: { weight?: Float32Array; bias?: Float32Array };
  history: EpochReport[];
}

/** Final and best test accuracy of a trained probe. */
export interface LinearProbeResult {
  final: { top1: number; top5: number };
  /** Best top-1 and best top-5 over epochs, each its own maximum (as the Barlow Twins code). */
  best: { top1: number; top5: number; top1Epoch: number };
  history: EpochReport[];
}

/** Learning rate of epoch `e` (0-based): base x (1 + cos(pi e / epochs)) / 2. */
export function probeLr(e: number, epochs: number, base: number): number {
  return warmupCosine(e, { base, warmupSteps: 0, totalSteps: epochs, finalFactor: 0 });
}

let probeCounter = 0;

/**
 * Trains a linear classifier on `train` batches and scores `test` after each epoch.
 *
 * @example
 * const r = await trainLinearProbe(cachedSource(trainF, 256, 0), testF, { classes: 10, epochs: 100, seed: 0 });
 * r.final.top1; r.best.top1;
 */
export async function trainLinearProbe(
  train: TrainSource,
  test: Features,
  options: LinearProbeOptions,
): Promise<LinearProbeResult> {
  const { classes, epochs } = options;
  const baseLr = options.lr ?? 0.1;
  if (test.dim !== train.dim) {
    throw new Error(`linear probe: train features have ${train.dim} dims, test ${test.dim}`);
  }
  if (!(Number.isInteger(epochs) && epochs > 0)) {
    throw new Error(`linear probe: epochs must be a positive integer, got ${epochs}`);
  }
  // Barlow Twins evaluate.py: fc.weight ~ N(0, 0.01), fc.bias = 0.
  const id = probeCounter++;
  const rng = new Rng(options.seed);
  const resume = options.resume;
  const weight = tf.variable(
    tf.tensor2d(
      resume?.weight ??
        Float32Array.from({ length: train.dim * classes }, () => 0.01 * rng.normal()),
      [train.dim, classes],
    ),
    true,
    `linear_probe_${id}.weight`,
  );
  const bias = tf.variable(
    tf.tensor1d(resume?.bias ?? new Float32Array(classes)),
    true,
    `linear_probe_${id}.bias`,
  );
  const sgd = new SGD(
    [{
      name: "linear",
      variables: [weight, bias],
      weightDecay: options.weightDecay ?? 1e-4,
      adapt: false,
    }],
    { momentum: options.momentum ?? 0.9 },
  );
  const history: EpochReport[] = resume ? [...resume.history] : [];
  try {
    if (resume) loadMomentum(sgd, weight, bias, resume.momentum);
    for (let epoch = resume ? resume.epoch + 1 : 0; epoch < epochs; epoch++) {
      const lr = probeLr(epoch, epochs, baseLr);
      let lossSum = 0;
      let batches = 0;
      for await (const batch of train.epoch(epoch)) {
        options.signal?.throwIfAborted();
        try {
          const { value, grads } = tf.variableGrads(() => {
            const logits = tf.add(tf.matMul(batch.features, weight), bias) as tf.Tensor2D;
            return tf.losses.softmaxCrossEntropy(
              tf.oneHot(batch.labels.toInt(), classes),
              logits,
            ) as tf.Scalar;
          }, [weight, bias]);
          sgd.step(grads, { linear: lr });
          lossSum += (await value.data())[0];
          batches++;
          tf.dispose([value, ...Object.values(grads)]);
        } finally {
          tf.dispose([batch.features, batch.labels]);
        }
      }
      const trainLoss = lossSum / Math.max(1, batches);
      if (!Number.isFinite(trainLoss)) {
        throw new Error(`linear probe: training loss is ${trainLoss} in epoch ${epoch}`);
      }
      const acc = await scoreProbe(weight, bias, test);
      const report = { epoch, lr, trainLoss, ...acc };
      history.push(report);
      if (options.onEpoch) {
        await options.onEpoch(report, {
          epoch,
          weight: await hostCopy(weight),
          bias: await hostCopy(bias),
          momentum: await momentumOf(sgd, weight, bias),
          history: [...history],
        });
      }
    }
  } finally {
    sgd.dispose();
    tf.dispose([weight, bias]);
  }
  return summarise(history);
}

/** Final and best accuracy from an epoch history. */
export function summarise(history: EpochReport[]): LinearProbeResult {
  if (history.length === 0) throw new Error("linear probe ran no epoch");
  const last = history[history.length - 1];
  let bestTop1 = history[0];
  for (const h of history) if (h.top1 > bestTop1.top1) bestTop1 = h;
  return {
    final: { top1: last.top1, top5: last.top5 },
    best: {
      top1: bestTop1.top1,
      top5: Math.max(...history.map((h) => h.top5)),
      top1Epoch: bestTop1.epoch,
    },
    history,
  };
}

/** Test accuracy of the linear layer (weight, bias) on `test`, in chunks. */
export async function scoreProbe(
  weight: tf.Tensor2D | tf.Variable,
  bias: tf.Tensor1D | tf.Variable,
  test: Features,
  chunk = 1024,
): Promise<{ top1: number; top5: number }> {
  let counts: TopKCounts = { top1: 0, top5: 0, n: 0 };
  for (let off = 0; off < test.n; off += chunk) {
    const rows = Math.min(chunk, test.n - off);
    const { logits, labels } = tf.tidy(() => ({
      logits: tf.add(
        tf.matMul(
          tf.tensor2d(test.data.subarray(off * test.dim, (off + rows) * test.dim), [
            rows,
            test.dim,
          ]),
          weight,
        ),
        bias,
      ) as tf.Tensor2D,
      labels: tf.tensor1d(test.labels.subarray(off, off + rows), "int32"),
    }));
    try {
      counts = addCounts(counts, await topkCounts(logits, labels));
    } finally {
      tf.dispose([logits, labels]);
    }
  }
  return toPercent(counts);
}

/**
 * Training batches from cached features: shuffled each epoch with the data loader's generator
 * for (seed, epoch), last partial batch kept.
 */
export function cachedSource(train: Features, batchSize: number, seed: number): TrainSource {
  if (!(Number.isInteger(batchSize) && batchSize > 0)) {
    throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
  }
  return {
    n: train.n,
    dim: train.dim,
    async *epoch(e: number) {
      const order = Int32Array.from({ length: train.n }, (_, i) => i);
      epochRng(seed, e).shuffle(order);
      for (let off = 0; off < train.n; off += batchSize) {
        const idx = order.subarray(off, Math.min(train.n, off + batchSize));
        const data = new Float32Array(idx.length * train.dim);
        const labels = new Int32Array(idx.length);
        idx.forEach((row, j) => {
          data.set(train.data.subarray(row * train.dim, (row + 1) * train.dim), j * train.dim);
          labels[j] = train.labels[row];
        });
        yield {
          features: tf.tensor2d(data, [idx.length, train.dim]),
          labels: tf.tensor1d(labels, "int32"),
        };
      }
    },
  };
}

/** A host copy of a tensor's values (asynchronous: WebGPU under Deno cannot read synchronously). */
async function hostCopy(t: tf.Tensor): Promise<Float32Array> {
  return Float32Array.from(await t.data());
}

async function momentumOf(
  sgd: SGD,
  weight: tf.Variable,
  bias: tf.Variable,
): Promise<ProbeState["momentum"]> {
  const state = sgd.state();
  try {
    const out: ProbeState["momentum"] = {};
    if (state[weight.name]) out.weight = await hostCopy(state[weight.name]);
    if (state[bias.name]) out.bias = await hostCopy(state[bias.name]);
    return out;
  } finally {
    tf.dispose(Object.values(state));
  }
}

function loadMomentum(
  sgd: SGD,
  weight: tf.Variable,
  bias: tf.Variable,
  m: ProbeState["momentum"],
): void {
  const state: Record<string, tf.Tensor> = {};
  if (m.weight) state[weight.name] = tf.tensor(m.weight, weight.shape);
  if (m.bias) state[bias.name] = tf.tensor(m.bias, bias.shape);
  sgd.load(state);
  tf.dispose(Object.values(state));
}
