/**
 * `pretrain`: self-supervised pretraining of an encoder (ARB by default) on a dataset folder
 * from `fetch_dataset`. Resumes from `ctx.stateDir`; writes `encoder.safetensors` +
 * `encoder.json` (PyTorch layouts, torchvision names) and the metrics files.
 *
 * ```yaml
 * train:
 *   uses: pretrain
 *   needs: [data]
 *   with: { recipe: simclr, epochs: 200 }   # configs/recipes/simclr.yaml, epochs overridden
 * ```
 * Parameters and recipes: `stages/pretrain_params.ts`. Without a recipe, ARB's (DESIGN.md
 * "The ARB method, precisely").
 */
import type { StageContext, StageKind } from "../pipeline/types.ts";
import { PretrainParams } from "./pretrain_params.ts";

export { PretrainParams } from "./pretrain_params.ts";

/** The `pretrain` stage kind. */
export const kind: StageKind<typeof PretrainParams> = {
  name: "pretrain",
  // 2: method recipes (optimizer choice, projector options, loss scale, warm-up start lr)
  version: "2",
  description: "self-supervised pretraining (ARB, Barlow Twins, SimCLR, ...) with a method recipe",
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
  const [r1, r2] = [0, 1].map((i) =>
    parseRecipe(p.views?.[i] ?? (gray ? `gray28View${i + 1}` : `cifarView${i + 1}`))
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
  const opt = p.optimizer;
  // Recipes give base learning rates at batch 256 (solo-learn and DESIGN.md's linear scaling).
  const scale = p.batch_size / 256;
  const initRng = new arb.Rng(p.seed);
  const encoder = arb.buildEncoder(spec, initRng.fork());
  const projector = arb.buildProjector(p.projector, encoder.featureDim, initRng.fork(), {
    batchNorm: p.projector_batch_norm,
    bias: p.projector_bias,
  });
  const methodState = arb.methodStates[p.method]?.({
    projectorDim: projector.featureDim,
    rng: initRng.fork(),
    params: p.loss,
  });
  let ok = false;
  try {
    ctx.log(
      `pretrain ${p.method} (recipe ${p.recipe}, ${opt.name}) ${p.arch} on ${ds.meta.name} ` +
        `(${split.n} images ${h}x${w}x${channels})`,
    );
    const result = await arb.pretrain({
      encoder,
      projector,
      loss,
      lossOptions,
      methodState,
      data: loader,
      views: (x, rng) => [augment(x, r1, rng, norm), augment(x, r2, rng, norm)],
      lossScale: p.loss_scale,
      epochs: p.epochs,
      batchSize: p.batch_size,
      seed: p.seed,
      lr: { weights: opt.lr * scale, biases: (opt.lr_biases ?? opt.lr) * scale },
      warmupEpochs: p.warmup_epochs,
      warmupStartLr: p.warmup_start_lr,
      finalFactor: p.final_lr_factor,
      optimizer: {
        name: opt.name,
        momentum: opt.momentum,
        eta: opt.eta,
        larsVariant: opt.lars_variant,
        clipLr: opt.clip_lr,
        betas: opt.betas,
        eps: opt.eps,
      },
      weightDecay: opt.weight_decay,
      excludeBiasAndNorm: opt.exclude_bias_n_norm,
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
      recipe: p.recipe,
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
