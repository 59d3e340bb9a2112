/**
 * The `pretrain` stage kind end to end on a tiny dataset folder written by the real
 * DatasetWriter: outputs (encoder export, metrics), resumption from the state folder, and the
 * schema's defaults (the paper's CIFAR settings) and errors.
 */
import { join } from "node:path";
import { kind, PretrainParams } from "../stages/pretrain.ts";
import { registry } from "../stages/registry.ts";
import { DatasetWriter } from "../arb/data/mod.ts";
import { loadEncoder } from "../arb/checkpoint.ts";
import { Rng } from "../arb/rng.ts";
import type { StageContext } from "../pipeline/types.ts";
import { assert, assertEquals, assertStringIncludes, assertThrows } from "./assert.ts";

async function toyDataset(dir: string): Promise<void> {
  const rng = new Rng(1);
  const split = (n: number) => ({
    images: Uint8Array.from({ length: n * 28 * 28 }, () => rng.int(256)),
    labels: Int32Array.from({ length: n }, () => rng.int(4)),
  });
  const w = await DatasetWriter.create(dir, [28, 28, 1]);
  await w.writeSplit("train", split(40));
  await w.writeSplit("test", split(8));
  await w.commit({
    name: "toy-gray",
    shape: [28, 28, 1],
    classes: 4,
    classNames: ["a", "b", "c", "d"],
    labelSets: {},
    sources: [{ url: "/dev/null", sha256: "0".repeat(64), file: "none" }],
    subset: null,
  });
}

function context(root: string, out: string, logs: string[]): StageContext<PretrainParams> {
  const params = PretrainParams.parse({
    arch: "convnet",
    width: 4,
    projector: "16-8",
    epochs: 2,
    batch_size: 16,
    warmup_epochs: 1,
    backend: "wasm",
    checkpoint_every: 1,
    loss: { groups: 2 },
    subset: { n: 32, seed: 3 },
  });
  return {
    experiment: "toy",
    profile: null,
    id: "train",
    kind: "pretrain",
    key: "key-1",
    params,
    matrix: {},
    inputs: {
      data: [{
        id: "data",
        stage: "data",
        kind: "fetch_dataset",
        key: "data-key",
        digest: "d",
        dir: join(root, "ds"),
        params: {},
        matrix: {},
      }],
    },
    outDir: out,
    stateDir: join(root, "state"),
    cacheDir: join(root, "cache"),
    signal: new AbortController().signal,
    log: (m) => logs.push(m),
    progress: () => {},
  };
}

Deno.test("pretrain stage: trains, exports the encoder and metrics, resumes from its state", async () => {
  const root = await Deno.makeTempDir();
  try {
    await toyDataset(join(root, "ds"));
    await Deno.mkdir(join(root, "out1"));
    await Deno.mkdir(join(root, "state"));
    const logs: string[] = [];
    await kind.run(context(root, join(root, "out1"), logs));
    const info = JSON.parse(await Deno.readTextFile(join(root, "out1", "encoder.json")));
    assertEquals([info.method, info.dataset, info.spec.arch, info.spec.inChannels], [
      "arb",
      "toy-gray",
      "convnet",
      1,
    ]);
    assertStringIncludes(info.device, "WebAssembly");
    const rows = (await Deno.readTextFile(join(root, "out1", "metrics.jsonl"))).trim().split("\n")
      .map((l) => JSON.parse(l));
    const losses = rows.filter((r) => r.name === "loss");
    assertEquals(losses.length, 4); // 2 epochs x (32 images / 16)
    assert(losses.every((r) => Number.isFinite(r.value) && r.run === "key-1"));
    const results = JSON.parse(await Deno.readTextFile(join(root, "out1", "results.json")));
    assertEquals(results.pretrain_loss_final, losses[3].value);
    const enc = await loadEncoder(join(root, "out1"));
    assertEquals(enc.featureDim, 32);
    enc.dispose();
    // A second attempt with the same state folder resumes after the last epoch: no steps run.
    await Deno.mkdir(join(root, "out2"));
    const logs2: string[] = [];
    await kind.run(context(root, join(root, "out2"), logs2));
    assert(
      logs2.some((l) => l.includes("resumed") && l.includes("after epoch 2")),
      logs2.join("\n"),
    );
    assertEquals(
      await Deno.readFile(join(root, "out2", "encoder.safetensors")),
      await Deno.readFile(join(root, "out1", "encoder.safetensors")),
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("pretrain schema: the paper's defaults; unknown keys and bad values are errors", async () => {
  const p = PretrainParams.parse({});
  assertEquals(
    [p.recipe, p.method, p.arch, p.stem, p.projector, p.batch_size, p.warmup_epochs],
    ["arb", "arb", "resnet18", "cifar", "2048-2048-256", 256, 10],
  );
  assertEquals([p.final_lr_factor, p.warmup_start_lr, p.loss_scale, p.backend], [
    0.001,
    0,
    1,
    "auto",
  ]);
  assertEquals(p.optimizer, {
    name: "lars",
    lr: 0.3,
    lr_biases: 0.0048,
    weight_decay: 1e-4,
    momentum: 0.9,
    eta: 0.02,
    exclude_bias_n_norm: true,
    clip_lr: false,
    lars_variant: "barlow_twins",
  });
  assertEquals([p.projector_batch_norm, p.projector_bias, p.views], [true, false, undefined]);
  assertThrows(() => PretrainParams.parse({ epoch: 3 }), "epoch");
  assertThrows(() => PretrainParams.parse({ projector: "2048-x" }), "like 2048-2048-256");
  assertThrows(() => PretrainParams.parse({ method: "byol" }), "method");
  assertEquals((await registry.pretrain()).name, "pretrain");
});
