/**
 * View recipes: augmentation pipelines as plain data (probabilities and ranges), so a YAML
 * file can override any field. Validated with zod at the edge (`parseRecipe`).
 */
import { z } from "zod";

const range = z.tuple([z.number(), z.number()]).refine(([lo, hi]) => lo <= hi, "lo must be <= hi");
const prob = z.number().min(0).max(1);

/** A view recipe's schema (see the fields' comments for meaning). */
export const ViewRecipe = z.object({
  /**
   * Geometry: "none"; "resized" = torchvision RandomResizedCrop back to the input size
   * (area fraction `scale`, aspect ratio `ratio`); "pad" = torchvision RandomCrop with
   * zero `padding` on each side, back to the input size.
   */
  crop: z.discriminatedUnion("kind", [
    z.object({ kind: z.literal("none") }).strict(),
    z.object({
      kind: z.literal("resized"),
      scale: range.refine(([lo, hi]) => lo > 0 && hi <= 1, "scale must lie in (0, 1]"),
      ratio: range.refine(([lo]) => lo > 0, "ratio must be > 0"),
    }).strict(),
    z.object({ kind: z.literal("pad"), padding: z.number().int().min(0) }).strict(),
  ]),
  /** Probability of a horizontal flip. */
  flip: prob,
  /**
   * torchvision ColorJitter applied with probability p: factors drawn uniformly from
   * [1 - b, 1 + b] (brightness, contrast), [1 - s, 1 + s] (saturation), [-h, h] (hue, in turns).
   */
  colorJitter: z.object({
    p: prob,
    brightness: z.number().min(0),
    contrast: z.number().min(0),
    saturation: z.number().min(0),
    hue: z.number().min(0).max(0.5),
  }).strict(),
  /** Probability of converting to grayscale (kept as 3 equal channels). */
  grayscale: prob,
  /** Gaussian blur with probability p and sigma drawn uniformly from `sigma` (pixels). */
  blur: z.object({
    p: prob,
    sigma: range.refine(([lo]) => lo > 0, "sigma must be > 0"),
  }).strict(),
  /** Solarisation with probability p: values >= threshold become 1 - value. */
  solarize: z.object({ p: prob, threshold: z.number() }).strict(),
}).strict();

/** A view recipe. */
export type ViewRecipe = z.infer<typeof ViewRecipe>;

/** PIL's `ImageOps.solarize` default threshold, 128 of 255. */
export const SOLARIZE_THRESHOLD = 128 / 255;

const off = {
  crop: { kind: "none" },
  flip: 0,
  colorJitter: { p: 0, brightness: 0, contrast: 0, saturation: 0, hue: 0 },
  grayscale: 0,
  blur: { p: 0, sigma: [0.1, 2] },
  solarize: { p: 0, threshold: SOLARIZE_THRESHOLD },
} as const satisfies ViewRecipe;

const cifarView1: ViewRecipe = {
  crop: { kind: "resized", scale: [0.08, 1], ratio: [3 / 4, 4 / 3] },
  flip: 0.5,
  colorJitter: { p: 0.8, brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1 },
  grayscale: 0.2,
  blur: { p: 0.2, sigma: [0.1, 2] },
  solarize: { p: 0, threshold: SOLARIZE_THRESHOLD },
};

// Fashion-MNIST (28x28, one channel): a gentler crop (scale >= 0.2: a 0.08 crop of a 28x28
// garment is a few pixels of texture), brightness/contrast only (no colour), and blur capped
// at sigma 1 (28 px images lose their shape at sigma 2).
const gray28View1: ViewRecipe = {
  crop: { kind: "resized", scale: [0.2, 1], ratio: [3 / 4, 4 / 3] },
  flip: 0.5,
  colorJitter: { p: 0.8, brightness: 0.4, contrast: 0.4, saturation: 0, hue: 0 },
  grayscale: 0,
  blur: { p: 0.2, sigma: [0.1, 1] },
  solarize: { p: 0, threshold: SOLARIZE_THRESHOLD },
};

function deepFreeze<T>(o: T): T {
  if (typeof o === "object" && o !== null) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** The built-in recipes (frozen: derive variants with `parseRecipe(name, overrides)` or spreads). */
export const recipes = deepFreeze(
  {
    /** DESIGN.md CIFAR view 1: crop 0.08-1, flip, jitter (0.4, 0.4, 0.2, 0.1) p 0.8, gray 0.2, blur 0.2. */
    cifarView1,
    /** DESIGN.md CIFAR view 2: as view 1 but blur p 0.1 and solarize p 0.2. */
    cifarView2: {
      ...cifarView1,
      blur: { ...cifarView1.blur, p: 0.1 },
      solarize: { ...cifarView1.solarize, p: 0.2 },
    },
    /** Fashion-MNIST view 1: crop 0.2-1, flip, brightness/contrast 0.4 p 0.8, blur (0.1-1) p 0.2. */
    gray28View1,
    /** Fashion-MNIST view 2: as view 1 but blur p 0.1 and solarize p 0.2. */
    gray28View2: {
      ...gray28View1,
      blur: { ...gray28View1.blur, p: 0.1 },
      solarize: { ...gray28View1.solarize, p: 0.2 },
    },
    /** Normalisation only. */
    none: off as ViewRecipe,
    /** Linear evaluation: random crop with zero padding 4, and flip. */
    cropFlip: { ...off, crop: { kind: "pad", padding: 4 }, flip: 0.5 } as ViewRecipe,
  } satisfies Record<string, ViewRecipe>,
);

/** Name of a built-in recipe. */
export type RecipeName = keyof typeof recipes;

/**
 * A validated recipe: a built-in one by name, or a full recipe object, with optional field
 * overrides merged one level deep (e.g. `{ blur: { p: 0.5 } }`). Errors name the bad field.
 *
 * @example
 * parseRecipe("cifarView2", { solarize: { p: 0.1 } });
 */
export function parseRecipe(
  base: RecipeName | unknown,
  overrides: Record<string, unknown> = {},
): ViewRecipe {
  let start: unknown = base;
  if (typeof base === "string") {
    if (!(base in recipes)) {
      throw new Error(
        `unknown augmentation recipe "${base}" (known: ${Object.keys(recipes).join(", ")})`,
      );
    }
    start = recipes[base as RecipeName];
  }
  const merged: Record<string, unknown> = { ...(start as Record<string, unknown>) };
  for (const [k, v] of Object.entries(overrides)) {
    const prev = merged[k];
    const isObj = (o: unknown) => typeof o === "object" && o !== null && !Array.isArray(o);
    // a crop of another kind replaces the crop; otherwise objects merge field by field
    const sameKind = !(k === "crop" && isObj(v) && "kind" in (v as object));
    merged[k] = isObj(prev) && isObj(v) && sameKind ? { ...(prev as object), ...(v as object) } : v;
  }
  const parsed = ViewRecipe.safeParse(merged);
  if (!parsed.success) {
    throw new Error(
      `augmentation recipe: ${
        parsed.error.issues.map((i) => `${i.path.join(".") || "(recipe)"}: ${i.message}`).join("; ")
      }`,
    );
  }
  return parsed.data;
}
