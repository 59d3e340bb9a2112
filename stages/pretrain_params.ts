/**
 * Parameters of the `pretrain` stage, and method recipes as configuration.
 *
 * A recipe (`configs/recipes/<name>.yaml`, or any YAML file by path) holds a method's published
 * training settings in the stage's own vocabulary (`method`, `loss`, `projector`, `optimizer`,
 * `epochs`, `views`, ...). Validation expands it, in this order, each layer deep-merged over the
 * one before (objects key by key; arrays and scalars replace):
 *
 *   1. the schema defaults (ARB's settings, DESIGN.md),
 *   2. the recipe named by `recipe` (default `arb`),
 *   3. the explicit `with` keys,
 *   4. `method_overrides[<method>]`, for the resolved method only (so one matrix over recipes can
 *      adjust a single method, e.g. W-MSE's `w_size` for a small batch).
 *
 * The expanded parameters are what the stage runs with and what its cache key hashes: editing a
 * recipe file re-runs exactly the stages that use it, and `deno task status` names the changed
 * field. Errors in a recipe name its file, line and field. Keys spelled as before recipes
 * (`final_factor`, `weight_decay`, `momentum`, `eta`, `recipe: { view1, view2 }`) are translated
 * (`stages/pretrain_legacy.ts`).
 *
 * Light on purpose (zod, yaml, the view-recipe schema): the stage module imports it at the top.
 */
import { z } from "zod";
import { ViewRecipe } from "../arb/augment/recipe.ts";
import { BACKEND_PREFERENCES } from "../arb/backend_names.ts";
import { deepMerge, isPlainObject } from "../pipeline/spec.ts";
import { YamlSource } from "../pipeline/yaml_source.ts";
import { formatProblem } from "../pipeline/errors.ts";
import { translateLegacyKeys } from "./pretrain_legacy.ts";

/** Methods the stage trains: keys of `losses` in `arb/losses/mod.ts`. */
export const METHODS = ["arb", "barlow_twins", "simclr", "vicreg", "wmse", "swav"] as const;
/** `arb/optim` names (kept here so the schema stays light: `arb/optim` loads tfjs). */
const OPTIMIZERS = ["lars", "sgd", "adam"] as const;
const LARS_VARIANTS = ["barlow_twins", "solo_learn"] as const;
/** Built-in view recipes of `arb/augment` a view may name instead of spelling it out. */
const VIEW_NAMES = ["cifarView1", "cifarView2", "gray28View1", "gray28View2", "none"] as const;

/** The folder of the named recipes. */
export const RECIPES_DIR = new URL("../configs/recipes/", import.meta.url).pathname;

const Optimizer = z.object({
  /** `lars` (default), `sgd` or `adam` (torch semantics, L2 weight decay). */
  name: z.enum(OPTIMIZERS).default("lars"),
  /** Base lr of the weights at batch 256; the run uses lr x batch_size / 256. */
  lr: z.number().positive().default(0.3),
  /** Base lr of biases and norm parameters at batch 256 (absent: `lr`); ARB: 0.0048. */
  lr_biases: z.number().positive().optional(),
  weight_decay: z.number().min(0).default(1e-4),
  /** LARS and SGD momentum. */
  momentum: z.number().min(0).lt(1).default(0.9),
  /** LARS trust coefficient. */
  eta: z.number().positive().default(0.02),
  /** Biases and norm parameters: no weight decay, no LARS adaptation, lr `lr_biases`. */
  exclude_bias_n_norm: z.boolean().default(true),
  /** LARS: clip the trust ratio to min(q / lr, 1) (solo-learn's `clip_lr`). */
  clip_lr: z.boolean().default(false),
  /** LARS trust ratio: `barlow_twins` (ARB's code) or `solo_learn` (Lightning Bolts). */
  lars_variant: z.enum(LARS_VARIANTS).default("barlow_twins"),
  /** Adam moment decays (default [0.9, 0.999]). */
  betas: z.tuple([z.number().min(0).lt(1), z.number().min(0).lt(1)]).optional(),
  /** Adam denominator guard (default 1e-8). */
  eps: z.number().positive().optional(),
}).strict();

const View = z.union([z.enum(VIEW_NAMES), ViewRecipe]);

/** Keys a recipe file may set: the method and how it trains, not where or how long to log. */
const recipeShape = {
  method: z.enum(METHODS).default("arb"),
  /** Options of the method's loss (validated by the loss: unknown keys are errors). */
  loss: z.record(z.unknown()).default({}),
  /** The loss is multiplied by this (solo-learn Barlow Twins `scale_loss` 0.1). */
  loss_scale: z.number().positive().default(1),
  arch: z.enum(["resnet18", "resnet50", "convnet"]).default("resnet18"),
  stem: z.enum(["cifar", "imagenet"]).default("cifar"),
  /** Base width (ResNet 64, convnet 16 when omitted). */
  width: z.number().int().positive().optional(),
  /** Projector MLP widths after the encoder, e.g. `2048-2048-256`. */
  projector: z.string().regex(/^\d+(-\d+)*$/, "like 2048-2048-256").default("2048-2048-256"),
  /** BatchNorm1d + ReLU between projector layers (false: ReLU only, SimCLR). */
  projector_batch_norm: z.boolean().default(true),
  /** Biases in the projector's linear layers. */
  projector_bias: z.boolean().default(false),
  optimizer: Optimizer.default({}),
  epochs: z.number().int().positive().default(1000),
  batch_size: z.number().int().min(2).default(256),
  warmup_epochs: z.number().int().min(0).default(10),
  /** lr at the first warm-up step (absolute, not scaled by the batch size). */
  warmup_start_lr: z.number().min(0).default(0),
  /** Final lr of the cosine as a fraction of the base lr. */
  final_lr_factor: z.number().min(0).max(1).default(0.001),
  /**
   * The two views: built-in names or full `ViewRecipe` objects. Absent: by channels,
   * `cifarView1`/`cifarView2` (DESIGN.md) or `gray28View1`/`gray28View2`.
   */
  views: z.tuple([View, View]).optional(),
};

/** Keys of a run that are not part of a method's recipe. */
const runShape = {
  seed: z.number().int().min(0).default(0),
  backend: z.enum(BACKEND_PREFERENCES).default("auto"),
  /** Checkpoint every K epochs (and at the end) into the stage's state folder. */
  checkpoint_every: z.number().int().positive().default(10),
  /** Train on a seeded subset of the split. */
  subset: z.object({
    n: z.number().int().positive(),
    seed: z.number().int().min(0).default(0),
    balanced: z.boolean().default(false),
  }).strict().nullable().default(null),
  /** Which split to pretrain on. */
  split: z.string().default("train"),
};

/** The expanded parameters the stage runs with (every default applied). */
const Resolved = z.object({
  /** The recipe the parameters were expanded from (a name or a path). */
  recipe: z.string().min(1),
  ...recipeShape,
  ...runShape,
}).strict();

const PartialRecipe = z.object(recipeShape).extend({ optimizer: Optimizer.partial() }).partial()
  .strict();

/** What a recipe file holds (every key optional; the schema defaults fill the rest). */
export const RecipeFile = PartialRecipe;

const Explicit = PartialRecipe.extend(z.object(runShape).partial().shape);

const Raw = z.preprocess(
  (value, ctx) =>
    isPlainObject(value)
      ? translateLegacyKeys(
        value,
        (path, message) => ctx.addIssue({ code: "custom", path, message }),
      )
      : value,
  Explicit.extend({
    /**
     * The method recipe: a name in configs/recipes/ (`simclr`) or a path to a YAML file
     * (relative to the working folder). Default `arb`.
     */
    recipe: z.string().min(1).optional(),
    /** Per-method overrides, applied last and only to instances of that method. */
    method_overrides: z.record(
      z.enum(METHODS),
      PartialRecipe.extend(
        z.object(runShape).partial().shape,
      ),
    ).optional(),
  }).strict(),
);

/** Schema of the `pretrain` stage's `with:` (expands the recipe; see the module doc). */
export const PretrainParams = Raw.transform((raw, ctx) => {
  const { recipe: recipeArg = "arb", method_overrides: overrides = {}, ...explicit } = raw;
  const loaded = loadRecipe(recipeArg);
  if (!loaded.ok) {
    ctx.addIssue({ code: "custom", path: ["recipe"], message: loaded.message });
    return z.NEVER;
  }
  let merged = deepMerge(loaded.value, stripUndefined(explicit)) as Record<string, unknown>;
  const method = (merged.method ?? "arb") as typeof METHODS[number];
  const override = overrides[method];
  if (override) merged = deepMerge(merged, stripUndefined(override)) as Record<string, unknown>;
  const resolved = Resolved.safeParse({ ...merged, recipe: recipeArg });
  if (!resolved.success) {
    for (const issue of resolved.error.issues) {
      const from = issue.path.length && !hasPath(explicit, issue.path)
        ? ` (from ${override && hasPath(override, issue.path) ? "method_overrides" : loaded.file})`
        : "";
      ctx.addIssue({ ...issue, message: issue.message + from } as z.IssueData);
    }
    return z.NEVER;
  }
  return resolved.data;
});

/** Validated, expanded parameters of the `pretrain` stage. */
export type PretrainParams = z.output<typeof PretrainParams>;

/** Where a recipe argument points: a name in {@link RECIPES_DIR} or a path. */
export function recipePath(arg: string): string {
  const isPath = arg.includes("/") || /\.ya?ml$/.test(arg);
  return isPath ? arg : `${RECIPES_DIR}${arg}.yaml`;
}

/** Names of the recipes in {@link RECIPES_DIR}, sorted. */
export function recipeNames(): string[] {
  try {
    return [...Deno.readDirSync(RECIPES_DIR)].filter((e) => e.isFile && e.name.endsWith(".yaml"))
      .map((e) => e.name.replace(/\.yaml$/, "")).sort();
  } catch {
    return [];
  }
}

type Loaded = { ok: true; file: string; value: Record<string, unknown> } | {
  ok: false;
  message: string;
};

/** Reads and validates a recipe file; problems name the file, line and field. */
export function loadRecipe(arg: string): Loaded {
  const path = recipePath(arg);
  const file = displayPath(path);
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    return {
      ok: false,
      message: `recipe "${arg}": ${file} not found (recipes: ${recipeNames().join(", ")}; ` +
        "or give a path to a YAML file)",
    };
  }
  const source = YamlSource.parse(file, text);
  if (source.problems.length) {
    return { ok: false, message: source.problems.map(formatProblem).join("; ") };
  }
  const parsed = RecipeFile.safeParse(source.value ?? {});
  if (!parsed.success) {
    const lines = parsed.error.issues.flatMap((issue) => {
      const at = (path: (string | number)[], key: boolean, message: string) =>
        formatProblem({
          pos: source.pos(path, { key }),
          message: `${path.join(".") || "(top level)"}: ${message}`,
        });
      return issue.code === "unrecognized_keys"
        ? issue.keys.map((k) => at([...issue.path, k], true, "unknown key in a recipe"))
        : [at(issue.path, false, issue.message)];
    });
    return { ok: false, message: lines.join("; ") };
  }
  return { ok: true, file, value: source.value as Record<string, unknown> ?? {} };
}

function displayPath(path: string): string {
  const cwd = Deno.cwd();
  return path.startsWith(cwd + "/") ? path.slice(cwd.length + 1) : path;
}

function stripUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

function hasPath(o: unknown, path: (string | number)[]): boolean {
  let cur = o;
  for (const seg of path) {
    if (typeof cur !== "object" || cur === null || !(seg in cur)) return false;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return true;
}
