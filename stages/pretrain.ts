/**
 * `pretrain`: self-supervised pretraining of an encoder (ARB by default) on a dataset folder
 * from `fetch_dataset`. Resumes from `ctx.stateDir`; writes `encoder.safetensors` +
 * `encoder.json` (PyTorch layouts, torchvision names) and the metrics files.
 *
 * ```yaml
 * train:
 *   uses: pretrain
 *   needs: [data]
 *   with: { method: arb, arch: resnet18, epochs: 1000, batch_size: 256 }
 * ```
 * Defaults are the paper's CIFAR settings (DESIGN.md "The ARB method, precisely").
 */
import { z } from "zod";
import type { StageContext, StageKind } from "../pipeline/types.ts";

const Lr = z.object({
  /** Base lr of weights; default batch_size / 256 x 0.3. */
  weights: z.number().positive().optional(),
  /** Base lr of biases and norm parameters; default batch_size / 256 x 0.0048. */
  biases: z.number().positive().optional(),
}).strict();

/** Parameters of the `pretrain` stage kind. */
export const PretrainParams = z.object({
  /** Self-supervised method: a key of `losses` in `arb/losses/mod.ts`. */
  method: z.enum(["arb", "barlow_twins", "simclr", "vicreg", "wmse", "swav"]).default("arb"),
  /** Options of the method's loss (ARB: `{ groups, swap }`; Barlow Twins: `{ lambda }`...). */
  loss: z.record(z.unknown()).default({}),
  arch: z.enum(["resnet18", "resnet50", "convnet"]).default("resnet18"),
  stem: z.enum(["cifar", "imagenet"]).default("cifar"),
  /** Base width (ResNet 64, convnet 16 when omitted). */
  width: z.number().int().positive().optional(),
  /** Projector MLP, e.g. `2048-2048-256` (Linear-BN-ReLU between, last Linear). */
  projector: z.string().regex(/^\d+(-\d+)*$/, "like 2048-2048-256").default("2048-2048-256"),
  epochs: z.number().int().positive().default(1000),
  batch_size: z.number().int().min(2).default(256),
  lr: Lr.default({}),
  warmup_epochs: z.number().int().min(0).default(10),
  /** Final lr of the cosine as a fraction of base. */
  final_factor: z.number().min(0).max(1).default(0.001),
  weight_decay: z.number().min(0).default(1e-4),
  momentum: z.number().min(0).max(1).default(0.9),
  /** LARS trust coefficient. */
  eta: z.number().positive().default(0.02),
  seed: z.number().int().min(0).default(0),
  backend: z.enum(["auto", "tensorflow", "webgpu", "wasm", "cpu"]).default("auto"),
  /** View recipes (names in `recipes` of `arb/augment`); default by channels: cifar / gray28. */
  recipe: z.object({
    view1: z.string().optional(),
    view2: z.string().optional(),
    /** Field overrides of each recipe (a ViewRecipe is plain data). */
    view1_overrides: z.record(z.unknown()).default({}),
    view2_overrides: z.record(z.unknown()).default({}),
  }).strict().default({}),
  /** Checkpoint every K epochs (and at the end) into the stage's state folder. */
  checkpoint_every: z.number().int().positive().default(10),
  /** Train on a seeded subset of the train split. */
  subset: z.object({
    n: z.number().int().positive(),
    seed: z.number().int().min(0).default(0),
    balanced: z.boolean().default(false),
  }).strict().nullable().default(null),
  /** Which split to pretrain on. */
  split: z.string().default("train"),
}).strict();

/** Validated parameters. */
export type PretrainParams = z.output<typeof PretrainParams>;

/** The `pretrain` stage kind. */
export const kind: StageKind<typeof PretrainParams> = {
  name: "pretrain",
  version: "1",
  description: "self-supervised pretraining (ARB, Barlow Twins, ...) of an encoder on a dataset",
  schema: PretrainParams,
  run: runPretrain,
};

/** Finds the one upstream `fetch_dataset` output. */
function datasetDir(ctx: StageContext<PretrainParams>): string {
  const all = Object.values(ctx.inputs).flat();
  const data = all.filter((i) => i.kind === "fetch_dataset");
  if (data.length !== 1) {
    throw new Error(
      `pretrain ${ctx.id} needs exactly one fetch_dataset stage in "needs", got ${data.length} (${
        all.map((i) => `${i.id}:${i.kind}`).join(", ") || "no inputs"
      })`,
    );
  }
  return data[0].dir;
}

async function runPretrain(ctx: StageContext<PretrainParams>): Promise<void> {
  const p = ctx.params;
  const arb = await import("../arb/mod.ts");
  const { readDataset, createLoader, subsetSplit } = await import("../arb/data/mod.ts");
  const { augment, parseRecipe } = await import("../arb/augment/mod.ts");
  const { openRecorder } = await import("../metrics/recorder.ts");

  const loss = arb.losses[p.method];
  if (!loss) {
    throw new Error(
      `pretrain: method "${p.method}" has no loss yet; available: ${
        Object.keys(arb.losses).join(", ")
      }`,
    );
  }
  const dir = datasetDir(ctx);
  const ds = await readDataset(dir);
  const [h, w, channels] = ds.meta.shape;
  let split = ds.split(p.split);
  if (p.subset) split = subsetSplit(split, p.subset);
  const loader = createLoader({
    data: split,
    batchSize: p.batch_size,
    seed: p.seed,
    dropLast: true,
  });
  if (loader.batchesPerEpoch < 1) {
    throw new Error(
      `pretrain: split "${p.split}" has ${split.n} images, fewer than batch_size ${p.batch_size}`,
    );
  }
  const gray = channels === 1;
  const r1 = parseRecipe(
    p.recipe.view1 ?? (gray ? "gray28View1" : "cifarView1"),
    p.recipe.view1_overrides,
  );
  const r2 = parseRecipe(
    p.recipe.view2 ?? (gray ? "gray28View2" : "cifarView2"),
    p.recipe.view2_overrides,
  );
  const norm = { mean: ds.meta.mean, std: ds.meta.std };

  const choice = await arb.selectBackend(p.backend, { log: (m) => ctx.log(m) });
  const rec = await openRecorder(ctx.outDir, {
    run: ctx.key,
    experiment: ctx.experiment,
    profile: ctx.profile,
    stageId: ctx.id,
    kind: ctx.kind,
    method: p.method,
    dataset: ds.meta.name,
    params: p as unknown as Record<string, unknown>,
    backend: choice.backend,
    device: choice.device,
  });
  const lossOptions = { ...p.loss };
  if (choice.backend === "webgpu" && p.method === "arb" && lossOptions.whitening === undefined) {
    // The default host eigensolver reads tensors synchronously, which Deno's WebGPU cannot do.
    lossOptions.whitening = "newton_schulz";
    ctx.log("webgpu: ARB whitening by Newton-Schulz on the device (loss.whitening overrides)");
  }
  const spec = { arch: p.arch, stem: p.stem, inChannels: channels, width: p.width };
  const initRng = new arb.Rng(p.seed);
  const encoder = arb.buildEncoder(spec, initRng.fork());
  const projector = arb.buildProjector(p.projector, encoder.featureDim, initRng.fork());
  const methodState = arb.methodStates[p.method]?.({
    projectorDim: projector.featureDim,
    rng: initRng.fork(),
    params: p.loss,
  });
  let ok = false;
  try {
    ctx.log(
      `pretrain ${p.method} ${p.arch} on ${ds.meta.name} (${split.n} images ${h}x${w}x${channels})`,
    );
    const result = await arb.pretrain({
      encoder,
      projector,
      loss,
      lossOptions,
      methodState,
      data: loader,
      views: (x, rng) => [augment(x, r1, rng, norm), augment(x, r2, rng, norm)],
      epochs: p.epochs,
      batchSize: p.batch_size,
      seed: p.seed,
      lr: p.lr,
      warmupEpochs: p.warmup_epochs,
      finalFactor: p.final_factor,
      weightDecay: p.weight_decay,
      momentum: p.momentum,
      eta: p.eta,
      checkpointDir: ctx.stateDir,
      checkpointEvery: p.checkpoint_every,
      signal: ctx.signal,
      log: (m) => ctx.log(m),
      onStep: (s) => {
        rec.log("loss", s.loss, { step: s.step, epoch: s.epoch });
        rec.log("lr", s.lr.weights, { step: s.step, epoch: s.epoch });
        rec.log("images_per_second", s.imagesPerSecond, { step: s.step, epoch: s.epoch });
        ctx.progress({
          step: s.step + 1,
          total: s.totalSteps,
          unit: "step",
          message: `epoch ${s.epoch + 1}/${p.epochs} loss ${s.loss.toFixed(4)}`,
        });
      },
      onEpoch: (e) => rec.log("epoch_loss", e.meanLoss, { epoch: e.epoch }),
    });
    rec.result("pretrain_loss_final", result.finalLoss);
    rec.result("seconds", result.seconds);
    await arb.saveEncoder(ctx.outDir, encoder, {
      method: p.method,
      dataset: ds.meta.name,
      epochs: p.epochs,
      backend: choice.backend,
      device: choice.device,
      projector: p.projector,
      resumedFromEpoch: result.resumedFromEpoch,
    });
    ok = true;
  } finally {
    await rec.close(ok ? "ok" : "failed");
    encoder.dispose();
    projector.dispose();
    methodState?.dispose();
  }
}
