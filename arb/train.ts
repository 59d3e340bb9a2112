/**
 * The pretraining loop: epochs of steps over a loader, two augmented views per image, a
 * self-supervised loss on the projected views, an optimiser (LARS by default; SGD, Adam) with a
 * warm-up + cosine schedule, per-step reports, checkpoints every K epochs and at the end, and
 * exact resumption.
 *
 * Determinism: all randomness comes from one `Rng` (augmentation parameters and the loss's
 * own draws) whose state is checkpointed with the weights, the optimiser state and the
 * schedule position, and the loader's order depends only on (seed, epoch). So a run stopped
 * and resumed ends with the same weights as an uninterrupted one on the same backend.
 */
import { tf } from "./tf.ts";
import { Rng, type RngState } from "./rng.ts";
import type { Encoder, Projector } from "./models/mod.ts";
import type { LossFn, MethodState } from "./losses/mod.ts";
import {
  createOptimizer,
  type Optimizer,
  type OptimizerSpec,
  splitParamGroups,
  splitStateKey,
  warmupCosine,
} from "./optim/mod.ts";
import { loadTrainingCheckpoint, saveTrainingCheckpoint } from "./checkpoint.ts";

/** A batch source: the `arb/data` loader satisfies it. */
export interface BatchSource {
  batchesPerEpoch: number;
  epoch(e: number): AsyncIterable<{ images: tf.Tensor4D; labels?: tf.Tensor; index: number }>;
}

/** Makes the two augmented views of a batch (normalised), drawing randomness from `rng`. */
export type ViewMaker = (images: tf.Tensor4D, rng: Rng) => [tf.Tensor4D, tf.Tensor4D];

/** What `onStep` receives after every optimiser step. */
export interface StepReport {
  /** 0-based epoch. */
  epoch: number;
  /** 0-based global step (across epochs). */
  step: number;
  /** Steps in the whole run. */
  totalSteps: number;
  loss: number;
  lr: { weights: number; biases: number };
  /** Images (each giving two views) per second for this step. */
  imagesPerSecond: number;
}

/** Options of {@link pretrain}. */
export interface PretrainOptions {
  encoder: Encoder;
  projector: Projector;
  loss: LossFn;
  /** Fixed loss options (e.g. ARB `{ groups, swap }`); `rng` is added by the trainer. */
  lossOptions?: Record<string, unknown>;
  /** The loss is multiplied by this before differentiation (default 1; solo-learn Barlow 0.1). */
  lossScale?: number;
  /** Trainable/running state of the method (SwAV), trained in the "weights" group. */
  methodState?: MethodState;
  data: BatchSource;
  views: ViewMaker;
  epochs: number;
  /** Batch size, for the learning-rate scaling (batch / 256). */
  batchSize: number;
  /** Seed of the trainer's Rng (augmentations, loss draws). */
  seed: number;
  /** Base learning rates; default batch/256 x 0.3 (weights) and x 0.0048 (biases). */
  lr?: { weights?: number; biases?: number };
  /** Warm-up epochs (default 10, capped below the run length). */
  warmupEpochs?: number;
  /** Learning rate at the first warm-up step (default 0), for every group. */
  warmupStartLr?: number;
  /** Final learning rate as a fraction of base (default 0.001). */
  finalFactor?: number;
  /**
   * Optimiser (default LARS, Barlow Twins variant, no clipping); its `momentum` and `eta` when
   * given here win over the flat `momentum` / `eta` below.
   */
  optimizer?: OptimizerSpec;
  /** Weight decay (default 1e-4), momentum (0.9), LARS trust coefficient eta (0.02). */
  weightDecay?: number;
  momentum?: number;
  eta?: number;
  /**
   * Biases and norm parameters in their own group, without weight decay or LARS adaptation,
   * at `lr.biases` (default true); false: one group at `lr.weights`.
   */
  excludeBiasAndNorm?: boolean;
  /** Folder for resumable checkpoints, and their period in epochs (default 1). */
  checkpointDir?: string;
  checkpointEvery?: number;
  onStep?: (report: StepReport) => void;
  onEpoch?: (info: { epoch: number; meanLoss: number; seconds: number }) => void;
  /** Aborting stops after the current step (the last checkpoint stays). */
  signal?: AbortSignal;
  log?: (message: string) => void;
}

/** What {@link pretrain} returns. */
export interface PretrainResult {
  epochs: number;
  steps: number;
  finalLoss: number;
  /** Epochs completed before this call (0 when not resumed). */
  resumedFromEpoch: number;
  seconds: number;
}

/** Default base learning rates for a batch size (Barlow Twins / ARB scaling). */
export function defaultLr(batchSize: number): { weights: number; biases: number } {
  return { weights: (batchSize / 256) * 0.3, biases: (batchSize / 256) * 0.0048 };
}

/**
 * Runs (or resumes) pretraining; see the module doc.
 *
 * @example
 * const result = await pretrain({ encoder, projector, loss: losses.arb, data: loader,
 *   views, epochs: 100, batchSize: 256, seed: 0, checkpointDir: stateDir });
 */
export async function pretrain(o: PretrainOptions): Promise<PretrainResult> {
  const started = performance.now();
  const log = o.log ?? (() => {});
  if (!Number.isInteger(o.epochs) || o.epochs < 1) {
    throw new Error(`epochs must be a positive integer, got ${o.epochs}`);
  }
  const perEpoch = o.data.batchesPerEpoch;
  if (!(perEpoch >= 1)) throw new Error(`the data source yields no batch per epoch`);
  const totalSteps = perEpoch * o.epochs;
  const lrDefault = defaultLr(o.batchSize);
  const base = {
    weights: o.lr?.weights ?? lrDefault.weights,
    biases: o.lr?.biases ?? lrDefault.biases,
  };
  const warmupSteps = Math.min((o.warmupEpochs ?? 10) * perEpoch, totalSteps - 1);
  const curve = (baseLr: number) => (step: number) =>
    warmupCosine(step, {
      base: baseLr,
      warmupSteps,
      totalSteps,
      finalFactor: o.finalFactor,
      startLr: o.warmupStartLr,
    });
  const weightsLr = curve(base.weights), biasesLr = curve(base.biases);
  const schedule = (step: number) => ({ weights: weightsLr(step), biases: biasesLr(step) });
  const lossScale = o.lossScale ?? 1;
  if (!(lossScale > 0 && Number.isFinite(lossScale))) {
    throw new Error(`lossScale must be a positive number, got ${lossScale}`);
  }
  const methodVars = o.methodState?.variables ?? [];
  const modelVars = [...o.encoder.variables, ...o.projector.variables];
  const excludeBiasAndNorm = o.excludeBiasAndNorm ?? true;
  const groups = splitParamGroups([...modelVars, ...methodVars], {
    weightDecay: o.weightDecay ?? 1e-4,
    excludeBiasAndNorm,
  });
  const spec: OptimizerSpec = {
    ...o.optimizer,
    name: o.optimizer?.name ?? "lars",
    momentum: o.optimizer?.momentum ?? o.momentum ?? 0.9,
    eta: o.optimizer?.eta ?? o.eta ?? 0.02,
  };
  const optimizer: Optimizer = createOptimizer(spec, groups);
  // What must match for a checkpoint to be resumable by this run.
  const fingerprint = {
    epochs: o.epochs,
    batchSize: o.batchSize,
    batchesPerEpoch: perEpoch,
    seed: o.seed,
    base,
    warmupSteps,
    finalFactor: o.finalFactor ?? 0.001,
    warmupStartLr: o.warmupStartLr ?? 0,
    optimizer: spec,
    weightDecay: o.weightDecay ?? 1e-4,
    excludeBiasAndNorm,
    lossScale,
  };
  // Optimiser state is keyed by tfjs variable names, which carry per-instance prefixes:
  // checkpoints use stable names instead, so new model instances can resume.
  const stable = new Map<string, string>();
  o.encoder.variables.forEach((v) => stable.set(v.name, `encoder/${o.encoder.localName(v)}`));
  o.projector.variables.forEach((v) => stable.set(v.name, `projector/${o.projector.localName(v)}`));
  methodVars.forEach((v, i) => stable.set(v.name, `method/${i}`));
  const live = new Map([...stable].map(([k, v]) => [v, k]));
  // State keys are a variable name, plus a slot suffix for Adam (`#m`): rename the name only.
  const rename = (state: Record<string, tf.Tensor>, map: Map<string, string>, what: string) =>
    Object.fromEntries(
      Object.entries(state).map(([k, t]) => {
        const { variable, slot } = splitStateKey(k);
        const name = map.get(variable);
        if (!name) throw new Error(`optimizer state for unknown variable ${k} (${what})`);
        return [name + slot, t];
      }),
    );
  let rng = new Rng(o.seed);
  let startEpoch = 0;
  try {
    if (o.checkpointDir) {
      const ck = await loadTrainingCheckpoint(o.checkpointDir);
      if (ck) {
        const info = ck.info as { epoch: number; rng: RngState; fingerprint: unknown };
        if (JSON.stringify(info.fingerprint) !== JSON.stringify(fingerprint)) {
          throw new Error(
            `checkpoint in ${o.checkpointDir} belongs to a different run (${
              JSON.stringify(info.fingerprint)
            } vs ${JSON.stringify(fingerprint)}): delete it to start afresh`,
          );
        }
        try {
          o.encoder.load(ck.parts.encoder ?? {});
          o.projector.load(ck.parts.projector ?? {});
          optimizer.load(rename(ck.parts.optimizer ?? {}, live, o.checkpointDir));
          if (o.methodState) o.methodState.load(ck.parts.method ?? {});
        } finally {
          for (const part of Object.values(ck.parts)) tf.dispose(Object.values(part));
        }
        rng = Rng.fromState(info.rng);
        startEpoch = info.epoch;
        log(`resumed from ${o.checkpointDir} after epoch ${startEpoch} of ${o.epochs}`);
      }
    }
    const save = async (epochsDone: number) => {
      if (!o.checkpointDir) return;
      const parts: Record<string, Record<string, tf.Tensor>> = {
        encoder: o.encoder.state(),
        projector: o.projector.state(),
        optimizer: rename(optimizer.state(), stable, "saving"),
      };
      if (o.methodState) parts.method = o.methodState.state();
      try {
        await saveTrainingCheckpoint(o.checkpointDir, parts, {
          epoch: epochsDone,
          step: epochsDone * perEpoch,
          rng: rng.state(),
          fingerprint,
          savedAt: new Date().toISOString(),
        });
      } finally {
        for (const part of Object.values(parts)) tf.dispose(Object.values(part));
      }
    };

    let finalLoss = NaN;
    const every = o.checkpointEvery ?? 1;
    for (let epoch = startEpoch; epoch < o.epochs; epoch++) {
      const epochStart = performance.now();
      let lossSum = 0, count = 0;
      for await (const batch of o.data.epoch(epoch)) {
        const step = epoch * perEpoch + batch.index;
        const t0 = performance.now();
        let loss: number;
        try {
          loss = await trainStep(
            o,
            optimizer,
            lossScale,
            modelVars,
            methodVars,
            batch.images,
            rng,
            {
              epoch,
              step,
              lr: schedule(step),
            },
          );
        } finally {
          batch.images.dispose();
          batch.labels?.dispose();
        }
        finalLoss = loss;
        lossSum += loss;
        count++;
        o.onStep?.({
          epoch,
          step,
          totalSteps,
          loss,
          lr: schedule(step),
          imagesPerSecond: batch.images.shape[0] / ((performance.now() - t0) / 1000),
        });
        if (o.signal?.aborted) {
          throw new Error(
            `pretraining aborted at step ${step} (epoch ${epoch}); the last checkpoint stays`,
          );
        }
      }
      const seconds = (performance.now() - epochStart) / 1000;
      o.onEpoch?.({ epoch, meanLoss: lossSum / Math.max(count, 1), seconds });
      if ((epoch + 1) % every === 0 || epoch + 1 === o.epochs) await save(epoch + 1);
    }
    return {
      epochs: o.epochs,
      steps: totalSteps,
      finalLoss,
      resumedFromEpoch: startEpoch,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    optimizer.dispose();
  }
}

/** One optimiser step; returns the loss. Throws on a non-finite loss before updating. */
async function trainStep(
  o: PretrainOptions,
  optimizer: Optimizer,
  lossScale: number,
  modelVars: tf.Variable[],
  methodVars: tf.Variable[],
  images: tf.Tensor4D,
  rng: Rng,
  at: { epoch: number; step: number; lr: { weights: number; biases: number } },
): Promise<number> {
  const ms = o.methodState;
  const frozen = ms?.frozen?.({ epoch: at.epoch }) ?? false;
  const vars = frozen ? modelVars : [...modelVars, ...methodVars];
  const [v1, v2] = tf.tidy(() => o.views(images, rng));
  let kept: [tf.Tensor2D, tf.Tensor2D] | null = null;
  const options = { ...o.lossOptions, ...ms?.lossOptions({ epoch: at.epoch, step: at.step }), rng };
  const { value, grads } = tf.variableGrads(() => {
    const z1 = o.projector.apply(o.encoder.apply(v1, true), true);
    const z2 = o.projector.apply(o.encoder.apply(v2, true), true);
    if (ms?.afterStep) kept = [tf.keep(z1), tf.keep(z2)];
    const loss = o.loss(z1, z2, options);
    return lossScale === 1 ? loss : tf.mul(loss, lossScale) as tf.Scalar;
  }, vars);
  tf.dispose([v1, v2]);
  try {
    const loss = (await value.data())[0];
    if (!Number.isFinite(loss)) {
      throw new Error(
        `loss is ${loss} at step ${at.step} (epoch ${at.epoch}): training stopped before applying it; ` +
          `the last checkpoint${o.checkpointDir ? ` in ${o.checkpointDir}` : ""} is intact ` +
          `(causes: diverging weights, or a whitening that failed inside the loss: ARB's ` +
          `newton_schulz whitening returns NaN rather than reading back; try whitening "eigh")`,
      );
    }
    optimizer.step(grads, at.lr);
    if (ms?.afterStep && kept) {
      const [z1, z2] = kept as [tf.Tensor2D, tf.Tensor2D];
      ms.afterStep({ epoch: at.epoch, step: at.step, z1, z2 });
    }
    return loss;
  } finally {
    tf.dispose([value, ...Object.values(grads)]);
    if (kept) tf.dispose(kept);
  }
}
