/**
 * configs/recipes/*.yaml: each is accepted by the pretrain stage's recipe schema (`RecipeFile`:
 * strict, so a recipe cannot carry a typo; views as arb/augment `ViewRecipe`s), states the
 * documented keys with sane values, and its `loss` record is accepted by that method's own
 * option schema.
 */
import { parse } from "yaml";
import { z } from "zod";
import { SimclrOptions } from "../arb/losses/simclr.ts";
import { VicregOptions } from "../arb/losses/vicreg.ts";
import { WmseOptions } from "../arb/losses/wmse.ts";
import { SwavOptions } from "../arb/losses/swav.ts";
import { ArbOptions } from "../arb/losses/arb.ts";
import { BarlowTwinsOptions } from "../arb/losses/barlow_twins.ts";
import { recipes as viewRecipes } from "../arb/augment/recipe.ts";
import { PretrainParams, RecipeFile } from "../stages/pretrain_params.ts";
import { assert, assertEquals } from "./assert.ts";

const dir = new URL("../configs/recipes/", import.meta.url);

const lossSchemas: Record<string, z.ZodTypeAny> = {
  simclr: SimclrOptions,
  vicreg: VicregOptions,
  wmse: WmseOptions,
  swav: SwavOptions,
  barlow_twins: BarlowTwinsOptions,
  arb: ArbOptions,
};

const methods = ["simclr", "vicreg", "wmse", "swav", "barlow_twins", "arb"];

Deno.test("recipes: one per method of the paper's table, each well-formed", async () => {
  for (const method of methods) {
    const text = await Deno.readTextFile(new URL(`${method}.yaml`, dir));
    const res = RecipeFile.safeParse(parse(text));
    assert(res.success, `${method}.yaml: ${res.success ? "" : JSON.stringify(res.error.issues)}`);
    const recipe = res.data;
    assertEquals(recipe.method, method, `${method}.yaml names its method`);
    // Each states the whole training recipe rather than leaning on the stage's defaults.
    for (
      const key of [
        "loss",
        "projector",
        "projector_batch_norm",
        "projector_bias",
        "batch_size",
        "epochs",
        "warmup_epochs",
        "warmup_start_lr",
        "final_lr_factor",
      ] as const
    ) assert(recipe[key] !== undefined, `${method}.yaml states ${key}`);
    assert(recipe.optimizer?.name && recipe.optimizer.lr, `${method}.yaml states its optimizer`);
    assert(recipe.warmup_epochs! < recipe.epochs!, `${method}.yaml: warm-up shorter than training`);
    if (recipe.optimizer.name === "lars") {
      assert(recipe.optimizer.eta !== undefined, `${method}.yaml: LARS needs eta`);
      assert(recipe.optimizer.clip_lr !== undefined, `${method}.yaml: LARS states clip_lr`);
    }
    // Views: both given (every method but ARB, whose views are the stage's RGB default).
    assertEquals(recipe.views?.length ?? 0, method === "arb" ? 0 : 2, `${method}.yaml views`);
    const parsed = lossSchemas[method].safeParse(recipe.loss);
    assert(
      parsed.success,
      `${method}.yaml loss: ${parsed.success ? "" : JSON.stringify(parsed.error.issues)}`,
    );
    // Every value line cites its source: a comment on the line or in the block it belongs to.
    assert(text.includes("# Source:"), `${method}.yaml states its source`);
  }
});

Deno.test("recipes: ARB's is DESIGN.md's, its views the stage's RGB default", () => {
  const p = PretrainParams.parse({ recipe: "arb" });
  assertEquals([p.optimizer.lr, p.optimizer.lr_biases, p.final_lr_factor], [0.3, 0.0048, 0.001]);
  assertEquals(p.views, undefined);
  // the stage's default for 3 channels; augment_test.ts checks them against DESIGN.md
  assertEquals(viewRecipes.cifarView2.solarize.p, 0.2);
});

Deno.test("recipes: W-MSE's sub-batch fits the batch and exceeds the embedding size", async () => {
  const recipe = RecipeFile.parse(parse(await Deno.readTextFile(new URL("wmse.yaml", dir))));
  const wSize = recipe.loss!.w_size as number;
  const embedding = Number(recipe.projector!.split("-").at(-1));
  assertEquals(recipe.batch_size! % wSize, 0, "w_size divides the batch");
  assert(wSize > embedding, "w_size > embedding: the covariance is non-singular");
});
