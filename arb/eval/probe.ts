/**
 * The whole linear evaluation of a frozen encoder on a dataset: features of both splits
 * (computed once, cached), the linear probe (on cached features, or on augmented views
 * recomputed per step), and weighted kNN on the clean features.
 */
import { join } from "node:path";
import { augmentedSource, type ViewFn } from "./augmented.ts";
import {
  extractFeatures,
  type FeatureEncoder,
  type Features,
  type ImageSplit,
  loadFeatures,
  type Normalisation,
  saveFeatures,
} from "./features.ts";
import { weightedKnn } from "./knn.ts";
import {
  cachedSource,
  type EpochReport,
  type LinearProbeResult,
  trainLinearProbe,
} from "./linear.ts";
import { loadProbeState, saveProbeState } from "./probe_state.ts";

/** Settings of a linear evaluation (the design's protocol by default, see the stage). */
export interface LinearEvalSettings {
  epochs: number;
  batchSize: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  /** True: train on augmented views through the encoder each step; false: on cached features. */
  augment: boolean;
  seed: number;
  /** Images per forward pass when extracting features. */
  featureBatchSize: number;
  /** Weighted kNN settings, or null to skip it. */
  knn: { k: number; temperature: number } | null;
}

/** A split with what the augmented source also needs (the `DatasetSplit` of `arb/data` fits). */
export type EvalSplit = ImageSplit & {
  name: string;
  classes: number;
  labelSets: Record<string, Int32Array>;
};

/** Where a linear evaluation keeps things and whom it tells. */
export interface LinearEvalHooks {
  /** Folder for cached features (reused when present). */
  featureDir: string;
  /** Folder for the probe's per-epoch state (resume after a crash); none when absent. */
  stateDir?: string;
  signal?: AbortSignal;
  /** The augmentation for `augment: true` (crop with padding 4 + flip, normalised). */
  view?: ViewFn;
  onEpoch?: (report: EpochReport) => void | Promise<void>;
  /** Progress of the current phase. */
  onProgress?: (phase: string, done: number, total: number) => void;
}

/** Everything a linear evaluation measured. */
export interface LinearEvalResult extends LinearProbeResult {
  knn: { top1: number; top5: number } | null;
  /** Feature dimension and split sizes, for the record. */
  shape: { dim: number; train: number; test: number };
}

/** Runs the linear evaluation of `encoder` on the train/test splits. */
export async function linearEval(
  encoder: FeatureEncoder,
  data: { train: EvalSplit; test: EvalSplit; norm: Normalisation; classes: number },
  settings: LinearEvalSettings,
  hooks: LinearEvalHooks,
): Promise<LinearEvalResult> {
  const features = async (split: EvalSplit): Promise<Features> => {
    const cached = await loadFeatures(hooks.featureDir, split.name);
    if (cached && cached.n === split.n && cached.dim === encoder.featureDim) return cached;
    const f = await extractFeatures(encoder, split, {
      norm: data.norm,
      batchSize: settings.featureBatchSize,
      signal: hooks.signal,
      onBatch: (done, total) => hooks.onProgress?.(`features ${split.name}`, done, total),
    });
    await saveFeatures(hooks.featureDir, split.name, f);
    return f;
  };
  const train = await features(data.train);
  const test = await features(data.test);

  let source;
  if (settings.augment) {
    if (!hooks.view) throw new Error("linear eval with augment: true needs an augmentation view");
    source = augmentedSource({
      encoder,
      split: data.train,
      view: hooks.view,
      batchSize: settings.batchSize,
      seed: settings.seed,
    });
  } else source = cachedSource(train, settings.batchSize, settings.seed);

  const fingerprint = JSON.stringify({ ...settings, dim: train.dim, classes: data.classes });
  const resume = hooks.stateDir ? await loadProbeState(hooks.stateDir, fingerprint) : null;
  // Epochs already done before a crash are reported again so the record is complete.
  for (const r of resume?.history ?? []) await hooks.onEpoch?.(r);
  const probe = await trainLinearProbe(source, test, {
    classes: data.classes,
    epochs: settings.epochs,
    lr: settings.lr,
    momentum: settings.momentum,
    weightDecay: settings.weightDecay,
    seed: settings.seed,
    signal: hooks.signal,
    resume: resume ?? undefined,
    onEpoch: async (report, state) => {
      if (hooks.stateDir) await saveProbeState(hooks.stateDir, state, fingerprint);
      await hooks.onEpoch?.(report);
      hooks.onProgress?.("linear probe", report.epoch + 1, settings.epochs);
    },
  });

  const knn = settings.knn
    ? await weightedKnn(train, test, {
      classes: data.classes,
      k: settings.knn.k,
      temperature: settings.knn.temperature,
    })
    : null;
  return { ...probe, knn, shape: { dim: train.dim, train: train.n, test: test.n } };
}

/** Copies the cached feature files from `from` into `to` (the stage output). */
export async function copyFeatures(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (e.isFile && !e.name.includes(".tmp-")) {
      await Deno.copyFile(join(from, e.name), join(to, e.name));
    }
  }
}
