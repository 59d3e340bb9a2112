/**
 * The `pretrain` parameters as they were spelled before method recipes, translated into the
 * recipe vocabulary so experiment files written then keep their meaning (and their cache keys
 * match the new spelling's): `final_factor` is `final_lr_factor`; `weight_decay`, `momentum` and
 * `eta` are `optimizer.*`; `recipe: { view1, view2, view1_overrides, view2_overrides }` (view
 * recipes by name, with field overrides) is `views: [view1, view2]`. The absolute
 * `lr: { weights, biases }` has no batch-free translation and is an error that says where it went.
 * Giving a key in both spellings is an error.
 */
import { parseRecipe } from "../arb/augment/recipe.ts";
import { isPlainObject } from "../pipeline/spec.ts";

/** Old key -> path of the new one. */
const RENAMED: Record<string, [string] | [string, string]> = {
  final_factor: ["final_lr_factor"],
  weight_decay: ["optimizer", "weight_decay"],
  momentum: ["optimizer", "momentum"],
  eta: ["optimizer", "eta"],
};

/** Reports a problem at a path of `with`. */
export type AddIssue = (path: (string | number)[], message: string) => void;

/** Returns `value` with the old spellings rewritten; problems go to `addIssue`. */
export function translateLegacyKeys(
  value: Record<string, unknown>,
  addIssue: AddIssue,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...value };
  if ("lr" in out) {
    addIssue(
      ["lr"],
      "moved: use `optimizer.lr` / `optimizer.lr_biases` (base rates at batch 256, scaled by " +
        "batch_size / 256)",
    );
    delete out.lr;
  }
  for (const [old, path] of Object.entries(RENAMED)) {
    if (!(old in out)) continue;
    const v = out[old];
    delete out[old];
    if (path.length === 1) {
      if (path[0] in out) {
        addIssue([old], `give \`${path[0]}\` or its old name \`${old}\`, not both`);
      } else out[path[0]] = v;
      continue;
    }
    const parent = isPlainObject(out[path[0]]) ? { ...(out[path[0]] as object) } : {};
    if (path[1] in parent) {
      addIssue([old], `give \`${path.join(".")}\` or its old name \`${old}\`, not both`);
      continue;
    }
    out[path[0]] = { ...parent, [path[1]]: v };
  }
  if (isPlainObject(out.recipe)) {
    const views = legacyViews(out.recipe, addIssue);
    delete out.recipe;
    if (views && "views" in out) addIssue(["recipe"], "give `views` or the old `recipe`, not both");
    else if (views) out.views = views;
  }
  return out;
}

/** `{ view1, view2, view1_overrides, view2_overrides }` as a `views` pair (or null: defaults). */
function legacyViews(old: Record<string, unknown>, addIssue: AddIssue): unknown[] | null {
  const known = ["view1", "view2", "view1_overrides", "view2_overrides"];
  const unknown = Object.keys(old).filter((k) => !known.includes(k));
  if (unknown.length) {
    addIssue(["recipe"], `unknown view-recipe keys ${unknown.join(", ")} (known: ${known})`);
    return null;
  }
  const given = known.filter((k) => old[k] !== undefined);
  if (given.length === 0) return null;
  if (old.view1 === undefined || old.view2 === undefined) {
    addIssue(
      ["recipe"],
      "name both view recipes (view1 and view2), or give `views: [view1, view2]`; the default " +
        "depends on the dataset's channels",
    );
    return null;
  }
  return [1, 2].map((i) => {
    const name = old[`view${i}`], overrides = old[`view${i}_overrides`];
    if (overrides === undefined || (isPlainObject(overrides) && !Object.keys(overrides).length)) {
      return name;
    }
    try {
      return parseRecipe(name, overrides as Record<string, unknown>);
    } catch (e) {
      addIssue(["recipe", `view${i}_overrides`], (e as Error).message);
      return name;
    }
  });
}
