/**
 * Method recipes as configuration (`stages/pretrain_params.ts`): a `pretrain` stage's `with`
 * names a recipe, which expands into the stage's parameters under the explicit keys and the
 * per-method overrides; errors name the recipe file, line and field; the expansion is what the
 * cache key hashes, so editing a recipe changes exactly the keys of the stages that use it.
 */
import { join } from "node:path";
import { PretrainParams, recipeNames } from "../stages/pretrain_params.ts";
import { registry } from "../stages/registry.ts";
import { loadExperiment } from "../pipeline/experiment.ts";
import { cacheKey, keyInputs } from "../pipeline/key.ts";
import { StatCache } from "../pipeline/hash.ts";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "./assert.ts";

function errorOf(value: unknown): string {
  const r = PretrainParams.safeParse(value);
  assert(!r.success, `expected ${JSON.stringify(value)} to fail`);
  return r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("\n");
}

Deno.test("recipes: every method's recipe expands; no recipe means ARB's", () => {
  assertEquals(recipeNames(), ["arb", "barlow_twins", "simclr", "swav", "vicreg", "wmse"]);
  for (const name of recipeNames()) {
    const p = PretrainParams.parse({ recipe: name });
    assertEquals([p.recipe, p.method], [name, name]);
  }
  assertEquals(PretrainParams.parse({}), PretrainParams.parse({ recipe: "arb" }));
  const simclr = PretrainParams.parse({ recipe: "simclr" });
  assertEquals(simclr.loss, { temperature: 0.2 });
  assertEquals([simclr.projector, simclr.projector_batch_norm, simclr.projector_bias], [
    "2048-256",
    false,
    true,
  ]);
  assertEquals(simclr.optimizer.lr_biases, undefined, "absent: the weights' lr");
  assertEquals([simclr.optimizer.clip_lr, simclr.optimizer.lars_variant], [true, "solo_learn"]);
  assertEquals([simclr.warmup_start_lr, simclr.final_lr_factor], [3e-5, 0]);
  assertEquals(simclr.views?.length, 2);
  const wmse = PretrainParams.parse({ recipe: "wmse" });
  assertEquals([wmse.optimizer.name, wmse.optimizer.exclude_bias_n_norm], ["adam", false]);
  assertEquals(PretrainParams.parse({ recipe: "barlow_twins" }).loss_scale, 0.1);
});

Deno.test("recipes: explicit keys deep-merge over the recipe; method overrides apply to their method only", () => {
  const p = PretrainParams.parse({
    recipe: "simclr",
    optimizer: { lr: 0.5 },
    loss: { temperature: 0.1 },
    epochs: 3,
    views: ["cifarView1", "none"],
  });
  assertEquals([p.optimizer.lr, p.optimizer.clip_lr, p.loss.temperature, p.epochs], [
    0.5,
    true,
    0.1,
    3,
  ]);
  assertEquals(p.views, ["cifarView1", "none"]);
  const overrides = {
    wmse: { loss: { w_size: 32 }, batch_size: 64 },
    swav: { loss: { num_prototypes: 10 } },
  };
  const wmse = PretrainParams.parse({ recipe: "wmse", method_overrides: overrides });
  assertEquals([wmse.loss.w_size, wmse.loss.w_iter, wmse.batch_size], [32, 1, 64]);
  const swav = PretrainParams.parse({ recipe: "swav", method_overrides: overrides });
  assertEquals([swav.loss.num_prototypes, swav.loss.temperature], [10, 0.1]);
  const arb = PretrainParams.parse({ recipe: "arb", method_overrides: overrides });
  assertEquals(arb, PretrainParams.parse({}), "other methods' overrides leave ARB alone");
  assert(!("method_overrides" in arb), "applied overrides are not part of the parameters");
  // An explicit method swaps the loss and keeps the recipe's training settings.
  const bt = PretrainParams.parse({ method: "barlow_twins" });
  assertEquals([bt.method, bt.recipe, bt.optimizer.lr_biases], ["barlow_twins", "arb", 0.0048]);
});

Deno.test("recipes: errors name the recipe file, line and field, and moved keys say where", async () => {
  assertStringIncludes(errorOf({ recipe: "simclrr" }), "configs/recipes/simclrr.yaml not found");
  assertStringIncludes(errorOf({ recipe: "simclrr" }), "arb, barlow_twins, simclr");
  const dir = await Deno.makeTempDir();
  try {
    const bad = join(dir, "bad.yaml");
    await Deno.writeTextFile(bad, "method: simclr\noptimizer:\n  name: lars\n  lr: fast\n");
    const e1 = errorOf({ recipe: bad });
    assertStringIncludes(e1, "recipe: ");
    assertStringIncludes(e1, "bad.yaml:4:7: optimizer.lr: Expected number, received string");
    await Deno.writeTextFile(bad, "method: simclr\nseed: 3\nprojector_bais: true\n");
    const e2 = errorOf({ recipe: bad });
    assertStringIncludes(e2, "bad.yaml:2:1: seed: unknown key in a recipe");
    assertStringIncludes(e2, "bad.yaml:3:1: projector_bais: unknown key in a recipe");
    await Deno.writeTextFile(bad, "method: [simclr\n");
    assertStringIncludes(errorOf({ recipe: bad }), "YAML syntax error");
    // A value that only fails once merged names where it came from.
    await Deno.writeTextFile(bad, "method: simclr\nwarmup_epochs: 10\n");
    assertStringIncludes(
      errorOf({ recipe: bad, method_overrides: { simclr: { projector: "1-x" } } }),
      "projector: like 2048-2048-256",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assertStringIncludes(errorOf({ lr: { weights: 1 } }), "lr: moved: use `optimizer.lr`");
  assertStringIncludes(errorOf({ recipe: { view1: "cifarView1" } }), "name both view recipes");
  assertStringIncludes(
    errorOf({ final_factor: 0, final_lr_factor: 0 }),
    "final_factor: give `final_lr_factor` or its old name `final_factor`, not both",
  );
  assertStringIncludes(errorOf({ eta: 0.1, optimizer: { eta: 0.1 } }), "not both");
  assertStringIncludes(errorOf({ method_overrides: { byol: {} } }), "method_overrides.byol");
  assertStringIncludes(errorOf({ optimizer: { name: "rmsprop" } }), "optimizer.name");
});

Deno.test("recipes in an experiment: positions in errors; editing a recipe changes only its users' keys", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const recipe = join(dir, "mine.yaml");
    await Deno.writeTextFile(recipe, "method: simclr\nloss: { temperature: 0.3 }\n");
    const exp = join(dir, "exp.yaml");
    const write = (recipes: string) =>
      Deno.writeTextFile(
        exp,
        [
          "name: recipes-test",
          "stages:",
          "  data: { uses: fetch_dataset, with: { dataset: cifar10 } }",
          "  train:",
          "    uses: pretrain",
          "    needs: [data]",
          `    matrix: { recipe: [${recipes}] }`,
          "    with: { epochs: 2 }",
          "",
        ].join("\n"),
      );
    const keys = async () => {
      const e = await loadExperiment(exp, { configsDir: dir, registry, profile: null });
      const stat = StatCache.memory();
      const digests = new Map([["data", "d".repeat(64)]]);
      const out: Record<string, string> = {};
      for (const inst of e.instances.filter((i) => i.stage === "train")) {
        out[inst.id] = cacheKey(await keyInputs(inst, digests, stat));
      }
      return out;
    };
    await write(`arb, ${recipe}`);
    const before = await keys();
    assertEquals(Object.keys(before).length, 2);
    await Deno.writeTextFile(recipe, "method: simclr\nloss: { temperature: 0.4 }\n");
    const after = await keys();
    const changed = Object.keys(before).filter((id) => before[id] !== after[id]);
    assertEquals(changed, [`train[recipe=${recipe}]`]);
    await write("arb, nope");
    await assertRejects(
      () => loadExperiment(exp, { configsDir: dir, registry, profile: null }),
      'exp.yaml:7:29: stage "train": parameter "with.recipe": recipe "nope"',
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pre-recipe spellings keep their meaning (and their parameters' cache key)", () => {
  const old = PretrainParams.parse({
    final_factor: 0.01,
    weight_decay: 0.5,
    momentum: 0.8,
    eta: 0.01,
    recipe: { view1: "cifarView1", view2: "cifarView2" },
  });
  const now = PretrainParams.parse({
    final_lr_factor: 0.01,
    optimizer: { weight_decay: 0.5, momentum: 0.8, eta: 0.01 },
    views: ["cifarView1", "cifarView2"],
  });
  assertEquals(old, now);
  const tweaked = PretrainParams.parse({
    recipe: { view1: "cifarView1", view2: "cifarView2", view2_overrides: { blur: { p: 0.5 } } },
  });
  assertEquals(tweaked.views?.[0], "cifarView1");
  const v2 = tweaked.views?.[1] as { blur: { p: number; sigma: number[] } };
  assertEquals([v2.blur.p, v2.blur.sigma], [0.5, [0.1, 2]]);
  assertStringIncludes(
    errorOf({ recipe: { view1: "cifarView1", view2: "nope", view2_overrides: { flip: 1 } } }),
    "recipe.view2_overrides: unknown augmentation recipe",
  );
});
