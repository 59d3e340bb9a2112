/**
 * configs/recipes/*.yaml: each parses, has the documented keys with sane values, its `loss`
 * record is accepted by that method's own option schema and its views by arb/augment's
 * `ViewRecipe` (so a recipe cannot carry a typo).
 */
import { parse } from "yaml";
import { z } from "zod";
import { SimclrOptions } from "../arb/losses/simclr.ts";
import { VicregOptions } from "../arb/losses/vicreg.ts";
import { WmseOptions } from "../arb/losses/wmse.ts";
import { SwavOptions } from "../arb/losses/swav.ts";
import { ArbOptions } from "../arb/losses/arb.ts";
import { BarlowTwinsOptions } from "../arb/losses/barlow_twins.ts";
import { ViewRecipe } from "../arb/augment/recipe.ts";
import { assert, assertEquals } from "./assert.ts";

const dir = new URL("../configs/recipes/", import.meta.url);

const Recipe = z.object({
  method: z.enum(["simclr", "vicreg", "wmse", "swav", "barlow_twins", "arb"]),
  loss: z.record(z.unknown()),
  loss_scale: z.number().positive().optional(),
  projector: z.string().regex(/^\d+(-\d+)*$/),
  projector_batch_norm: z.boolean(),
  projector_bias: z.boolean(),
  optimizer: z.object({
    name: z.enum(["lars", "adam"]),
    lr: z.number().positive(),
    lr_biases: z.number().positive().optional(),
    weight_decay: z.number().min(0),
    momentum: z.number().min(0).max(1).optional(),
    eta: z.number().positive().optional(),
    exclude_bias_n_norm: z.boolean().optional(),
    clip_lr: z.boolean().optional(),
  }).strict(),
  batch_size: z.number().int().positive(),
  epochs: z.number().int().positive(),
  warmup_epochs: z.number().int().min(0),
  warmup_start_lr: z.number().min(0),
  final_lr_factor: z.number().min(0).max(1),
  views: z.array(ViewRecipe).length(2),
}).strict();

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
    const res = Recipe.safeParse(parse(text));
    assert(res.success, `${method}.yaml: ${res.success ? "" : JSON.stringify(res.error.issues)}`);
    const recipe = res.data;
    assertEquals(recipe.method, method, `${method}.yaml names its method`);
    assert(recipe.warmup_epochs < recipe.epochs, `${method}.yaml: warm-up shorter than training`);
    if (recipe.optimizer.name === "lars") {
      assert(recipe.optimizer.eta !== undefined, `${method}.yaml: LARS needs eta`);
    }
    const parsed = lossSchemas[method].safeParse(recipe.loss);
    assert(
      parsed.success,
      `${method}.yaml loss: ${parsed.success ? "" : JSON.stringify(parsed.error.issues)}`,
    );
    // Every value line cites its source: a comment on the line or in the block it belongs to.
    assert(text.includes("# Source:"), `${method}.yaml states its source`);
  }
});

Deno.test("recipes: W-MSE's sub-batch fits the batch and exceeds the embedding size", async () => {
  const recipe = Recipe.parse(parse(await Deno.readTextFile(new URL("wmse.yaml", dir))));
  const wSize = recipe.loss.w_size as number;
  const embedding = Number(recipe.projector.split("-").at(-1));
  assertEquals(recipe.batch_size % wSize, 0, "w_size divides the batch");
  assert(wSize > embedding, "w_size > embedding: the covariance is non-singular");
});
