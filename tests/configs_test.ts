/**
 * Every experiment shipped in `configs/` loads and validates (each stage's parameters against
 * its kind's schema) with no profile and with each profile it declares: a typo in a config
 * fails here, not hours into a run.
 */
import { parse } from "yaml";
import { assert, assertEquals } from "./assert.ts";
import { listExperiments, loadExperiment } from "../pipeline/experiment.ts";
import { registry } from "../stages/registry.ts";

const configsDir = new URL("../configs", import.meta.url).pathname;
const experiments = await listExperiments(configsDir);

Deno.test("configs/ holds the default, CI and CIFAR experiments", () => {
  for (const name of ["fashion-mnist", "ci", "cifar10", "cifar100"]) {
    assert(experiments.includes(name), `configs/${name}.yaml is missing (found ${experiments})`);
  }
});

for (const name of experiments) {
  const raw = parse(await Deno.readTextFile(`${configsDir}/${name}.yaml`));
  const profiles = [null, ...Object.keys(raw.profiles ?? {})];
  for (const profile of profiles) {
    Deno.test(`configs/${name}.yaml${profile ? ` --profile ${profile}` : ""} validates`, async () => {
      const exp = await loadExperiment(name, { configsDir, registry, profile });
      assert(exp.instances.length > 0, "no stage instances");
    });
  }
}

for (const name of ["cifar10", "cifar100"]) {
  Deno.test(`configs/${name}.yaml: the paper profile is the paper's protocol (DESIGN.md)`, async () => {
    const load = (profile: string | null) =>
      loadExperiment(name, { configsDir, registry, profile });
    const base = await load(null), paper = await load("paper");
    const params = (e: typeof base) => e.instances.map((i) => [i.id, i.params]);
    assertEquals(params(paper), params(base));
    const pre = base.byId.get("pretrain")!.params;
    assertEquals(
      {
        method: pre.method,
        arch: pre.arch,
        stem: pre.stem,
        projector: pre.projector,
        epochs: pre.epochs,
        batch_size: pre.batch_size,
        warmup_epochs: pre.warmup_epochs,
        final_factor: pre.final_lr_factor,
        // the pretrain stage's optimiser settings (stages/pretrain_params.ts)
        ...(({ name, lr, lr_biases, weight_decay, momentum, eta, clip_lr }) => ({
          optimizer: name,
          lr,
          lr_biases,
          weight_decay,
          momentum,
          eta,
          clip_lr,
        }))(pre.optimizer as Record<string, unknown>),
      },
      {
        method: "arb",
        arch: "resnet18",
        stem: "cifar",
        projector: "2048-2048-256",
        epochs: 1000,
        batch_size: 256,
        warmup_epochs: 10,
        final_factor: 0.001,
        optimizer: "lars",
        lr: 0.3, // x batch / 256
        lr_biases: 0.0048, // x batch / 256
        weight_decay: 1e-4,
        momentum: 0.9,
        eta: 0.02,
        clip_lr: false,
      },
    );
    const lin = base.byId.get("linear")!.params;
    assertEquals(
      [lin.epochs, lin.batch_size, lin.lr, lin.momentum, lin.weight_decay, lin.augment],
      [100, 256, 0.1, 0.9, 1e-4, true],
    );
  });
}
