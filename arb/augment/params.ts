/**
 * Per-image random parameters of a view, drawn on the host from an `Rng`.
 *
 * Draw order (image by image, i = 0 .. N-1; every draw listed is taken, in this order):
 * 1. crop: "resized": torchvision RandomResizedCrop.get_params: up to 10 tries of
 *    (area fraction ~ U(scale), log aspect ratio ~ U(log ratio)); on the first try whose
 *    rounded w x h fits, top ~ int(H - h + 1) then left ~ int(W - w + 1); if no try fits, the
 *    central crop clamped to the ratio range (no draw). "pad": top ~ int(2 pad + 1), then
 *    left ~ int(2 pad + 1). "none": no draw.
 * 2. flip: one uniform (flip if < p).
 * 3. colour jitter: one uniform (apply if < p); if applied: the order of the four operations
 *    (Fisher-Yates shuffle of [brightness, contrast, saturation, hue]: 3 draws), then the four
 *    factors in that fixed order, brightness, contrast, saturation, hue (one uniform each).
 * 4. grayscale: one uniform (< p).
 * 5. blur: one uniform (< p); if applied, sigma ~ U(sigma range).
 * 6. solarize: one uniform (< p).
 */
import type { Rng } from "../rng.ts";
import type { ViewRecipe } from "./recipe.ts";

/** The jitter operations, in the order their factors are drawn. */
export const JITTER_OPS = ["brightness", "contrast", "saturation", "hue"] as const;

/** Parameters for a batch, one entry per image. */
export interface ViewParams {
  /** Crop boxes in input pixels (top, left, height, width) per image, or null for no crop. */
  crops: { top: number; left: number; height: number; width: number }[] | null;
  /** Horizontal flip per image. */
  flips: boolean[];
  /** Colour jitter applied per image. */
  jitter: boolean[];
  /** Per image, the jitter operation indices (into JITTER_OPS) in application order. */
  jitterOrder: number[][];
  /** Per image factors [brightness, contrast, saturation, hue]; identity when not jittered. */
  jitterFactors: [number, number, number, number][];
  /** Grayscale per image. */
  grayscale: boolean[];
  /** Blur sigma per image (0: no blur). */
  blurSigma: number[];
  /** Solarise per image. */
  solarize: boolean[];
}

/** Draws the parameters of one view for n images of h x w pixels (see the module doc for the order). */
export function sampleViewParams(
  n: number,
  h: number,
  w: number,
  recipe: ViewRecipe,
  rng: Rng,
): ViewParams {
  const p: ViewParams = {
    crops: recipe.crop.kind === "none" ? null : [],
    flips: [],
    jitter: [],
    jitterOrder: [],
    jitterFactors: [],
    grayscale: [],
    blurSigma: [],
    solarize: [],
  };
  const cj = recipe.colorJitter;
  for (let i = 0; i < n; i++) {
    const crop = recipe.crop;
    if (crop.kind === "resized") p.crops!.push(resizedCropBox(h, w, crop.scale, crop.ratio, rng));
    else if (crop.kind === "pad") {
      const top = rng.int(2 * crop.padding + 1), left = rng.int(2 * crop.padding + 1);
      p.crops!.push({ top, left, height: h, width: w });
    }
    p.flips.push(rng.bernoulli(recipe.flip));
    const jitter = rng.bernoulli(cj.p);
    p.jitter.push(jitter);
    if (jitter) {
      p.jitterOrder.push(rng.shuffle([0, 1, 2, 3]));
      p.jitterFactors.push([
        rng.range(Math.max(0, 1 - cj.brightness), 1 + cj.brightness),
        rng.range(Math.max(0, 1 - cj.contrast), 1 + cj.contrast),
        rng.range(Math.max(0, 1 - cj.saturation), 1 + cj.saturation),
        rng.range(-cj.hue, cj.hue),
      ]);
    } else {
      p.jitterOrder.push([0, 1, 2, 3]);
      p.jitterFactors.push([1, 1, 1, 0]);
    }
    p.grayscale.push(rng.bernoulli(recipe.grayscale));
    p.blurSigma.push(
      rng.bernoulli(recipe.blur.p) ? rng.range(recipe.blur.sigma[0], recipe.blur.sigma[1]) : 0,
    );
    p.solarize.push(rng.bernoulli(recipe.solarize.p));
  }
  return p;
}

/** torchvision RandomResizedCrop.get_params (10 tries, then the ratio-clamped central crop). */
export function resizedCropBox(
  height: number,
  width: number,
  scale: readonly [number, number],
  ratio: readonly [number, number],
  rng: Rng,
): { top: number; left: number; height: number; width: number } {
  const area = height * width;
  const logLo = Math.log(ratio[0]), logHi = Math.log(ratio[1]);
  for (let t = 0; t < 10; t++) {
    const target = area * rng.range(scale[0], scale[1]);
    const aspect = Math.exp(rng.range(logLo, logHi));
    const w = Math.round(Math.sqrt(target * aspect));
    const h = Math.round(Math.sqrt(target / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = rng.int(height - h + 1);
      const left = rng.int(width - w + 1);
      return { top, left, height: h, width: w };
    }
  }
  const inRatio = width / height;
  let w = width, h = height;
  if (inRatio < ratio[0]) h = Math.round(w / ratio[0]);
  else if (inRatio > ratio[1]) w = Math.round(h * ratio[1]);
  return {
    top: Math.floor((height - h) / 2),
    left: Math.floor((width - w) / 2),
    height: h,
    width: w,
  };
}
