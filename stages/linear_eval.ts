/**
 * The `linear_eval` stage kind: the linear probe and weighted kNN on a frozen encoder.
 *
 * ```yaml
 * eval:
 *   uses: linear_eval
 *   needs: [data, train]            # a fetch_dataset and a pretrain upstream
 *   with: { epochs: 100, augment: true }
 * eval_random:
 *   uses: linear_eval
 *   needs: [data]
 *   with: { random_init: { arch: resnet18 } }   # the untrained floor, same architecture
 * ```
 *
 * Output: `features/` (the frozen features of both splits, float32) and the recorder files:
 * per epoch `train_loss`, `lr`, `linear_top1`, `linear_top5`; results `linear_top1_final`,
 * `linear_top5_final`, `linear_top1_best`, `linear_top5_best`, `knn_top1`, `knn_top5`,
 * `seconds` (accuracies in percent).
 */
import { z } from "zod";
import type { StageContext, StageInput, StageKind } from "../pipeline/types.ts";
import { BACKEND_PREFERENCES } from "../arb/backend_names.ts";

const RandomInit = z.object({
  arch: z.enum(["resnet18", "resnet50", "convnet"]),
  stem: z.enum(["cifar", "imagenet"]).default("cifar"),
  /** Default: the dataset's channel count. */
  in_channels: z.number().int().positive().optional(),
  width: z.number().int().positive().optional(),
}).strict();

const Params = z.object({
  /** Linear-probe epochs (the design: 100). */
  epochs: z.number().int().positive().default(100),
  batch_size: z.number().int().positive().default(256),
  lr: z.number().positive().default(0.1),
  momentum: z.number().min(0).lt(1).default(0.9),
  weight_decay: z.number().min(0).default(1e-4),
  /**
   * true: the paper's protocol (random crop with padding 4 and flip, features recomputed per
   * step); false: features computed once and reused every epoch (much faster).
   */
  augment: z.boolean().default(true),
  seed: z.number().int().min(0).default(0),
  /** Images per forward pass when extracting features. */
  feature_batch_size: z.number().int().positive().default(256),
  /** Weighted kNN (k neighbours, temperature), or false to skip it. */
  knn: z.union([
    z.literal(false),
    z.object({
      k: z.number().int().positive().default(200),
      temperature: z.number().positive().default(0.1),
    }).strict(),
  ]).default({}),
  /** Evaluate an untrained encoder of this architecture instead of a pretrain upstream. */
  random_init: RandomInit.optional(),
  /** Method label for reports (default: the pretrain upstream's method, or random_init). */
  method: z.string().min(1).optional(),
  /** Dataset label for reports (default: the dataset's name; e.g. imagenet100 for an image folder). */
  dataset_name: z.string().min(1).optional(),
  backend: z.enum(BACKEND_PREFERENCES).default("auto"),
}).strict();

type Params = z.output<typeof Params>;

/** Picks the one upstream of `kind`, or none; more than one is an error. */
function single(ctx: StageContext<Params>, kind: string): StageInput | undefined {
  const found = Object.values(ctx.inputs).flat().filter((i) => i.kind === kind);
  if (found.length > 1) {
    throw new Error(
      `${ctx.id}: expected at most one ${kind} upstream, got ${found.map((i) => i.id).join(", ")}`,
    );
  }
  return found[0];
}

async function run(ctx: StageContext<Params>): Promise<void> {
  const { join } = await import("node:path");
  const { selectBackend } = await import("../arb/backend.ts");
  const { readDataset } = await import("../arb/data/mod.ts");
  const { buildEncoder } = await import("../arb/models/mod.ts");
  const { loadEncoder } = await import("../arb/checkpoint.ts");
  const { augment, recipes } = await import("../arb/augment/mod.ts");
  const { Rng } = await import("../arb/rng.ts");
  const { linearEval, copyFeatures } = await import("../arb/eval/probe.ts");
  const { openRecorder } = await import("../metrics/recorder.ts");

  const p = ctx.params;
  const dataInput = single(ctx, "fetch_dataset");
  if (!dataInput) throw new Error(`${ctx.id}: needs a fetch_dataset upstream (list it in needs)`);
  const pretrain = single(ctx, "pretrain");
  if (pretrain && p.random_init) {
    throw new Error(
      `${ctx.id}: has both a pretrain upstream (${pretrain.id}) and random_init; drop one`,
    );
  }
  if (!pretrain && !p.random_init) {
    throw new Error(
      `${ctx.id}: needs a pretrain upstream, or random_init: { arch: ... } for an untrained encoder`,
    );
  }

  const started = performance.now();
  const choice = await selectBackend(p.backend, { log: ctx.log });
  const dataset = await readDataset(dataInput.dir);
  const encoder = p.random_init
    ? buildEncoder({
      arch: p.random_init.arch,
      stem: p.random_init.stem,
      inChannels: p.random_init.in_channels ?? dataset.meta.shape[2],
      ...(p.random_init.width ? { width: p.random_init.width } : {}),
    }, new Rng(p.seed))
    : await loadEncoder(pretrain!.dir);
  const method = p.method ??
    (p.random_init ? "random_init" : String(
      pretrain!.params.method ?? pretrain!.matrix.method ?? ctx.matrix.method ?? "unknown",
    ));
  const datasetName = p.dataset_name ?? dataset.meta.name;

  const rec = await openRecorder(ctx.outDir, {
    run: ctx.key,
    experiment: ctx.experiment,
    profile: ctx.profile,
    stageId: ctx.id,
    kind: ctx.kind,
    method,
    dataset: datasetName,
    params: p as Record<string, unknown>,
    backend: choice.backend,
    device: choice.device,
  }, { cacheDir: ctx.cacheDir });
  try {
    const norm = { mean: dataset.meta.mean, std: dataset.meta.std };
    const featureDir = join(ctx.stateDir, "features");
    const result = await linearEval(encoder, {
      train: dataset.split("train"),
      test: dataset.split("test"),
      norm,
      classes: dataset.meta.classes,
    }, {
      epochs: p.epochs,
      batchSize: p.batch_size,
      lr: p.lr,
      momentum: p.momentum,
      weightDecay: p.weight_decay,
      augment: p.augment,
      seed: p.seed,
      featureBatchSize: p.feature_batch_size,
      knn: p.knn === false ? null : p.knn,
    }, {
      featureDir,
      stateDir: join(ctx.stateDir, "probe"),
      signal: ctx.signal,
      view: (x, rng) => augment(x, recipes.cropFlip, rng, norm),
      onEpoch: (r) => {
        rec.log("train_loss", r.trainLoss, { epoch: r.epoch });
        rec.log("lr", r.lr, { epoch: r.epoch });
        rec.log("linear_top1", r.top1, { epoch: r.epoch });
        rec.log("linear_top5", r.top5, { epoch: r.epoch });
      },
      onProgress: (phase, done, total) =>
        ctx.progress({
          step: done,
          total,
          unit: phase === "linear probe" ? "epoch" : "img",
          message: phase,
        }),
    });
    rec.result("linear_top1_final", result.final.top1);
    rec.result("linear_top5_final", result.final.top5);
    rec.result("linear_top1_best", result.best.top1);
    rec.result("linear_top5_best", result.best.top5);
    if (result.knn) {
      rec.result("knn_top1", result.knn.top1);
      rec.result("knn_top5", result.knn.top5);
    }
    rec.result("seconds", (performance.now() - started) / 1000);
    await copyFeatures(featureDir, join(ctx.outDir, "features"));
    ctx.log(
      `${method} on ${datasetName}: linear top-1 ${result.final.top1.toFixed(2)} final, ` +
        `${result.best.top1.toFixed(2)} best (epoch ${result.best.top1Epoch + 1})` +
        (result.knn ? `, kNN top-1 ${result.knn.top1.toFixed(2)}` : ""),
    );
    await rec.close("ok");
  } catch (e) {
    await rec.close("failed").catch(() => {});
    throw e;
  } finally {
    encoder.dispose();
  }
}

/** The `linear_eval` stage kind. */
export const kind: StageKind<typeof Params> = {
  name: "linear_eval",
  version: "1",
  description: "linear probe (final and best epoch) and weighted kNN on a frozen encoder",
  schema: Params,
  run,
};
