/**
 * `augment`: one random view of a batch, as tensor ops on the active backend, in torchvision's
 * order: crop (+ flip), colour jitter, grayscale, blur, solarize, normalise. Per-image random
 * parameters come from `rng` on the host (order documented in `params.ts`); the same rng
 * state and input give the same output.
 *
 * Colour jitter applies its operations in a fixed order, brightness, contrast, saturation,
 * hue (torchvision draws a random order per image; doing that batched would run every
 * operation in each of four slots over the whole batch, about four times the cost, for a
 * second-order effect). The order is still drawn from the rng (`params.ts`) so that a later
 * per-image-order implementation keeps the same random stream. Operations whose strength is 0
 * in the recipe are skipped, and every stage is skipped when no image in the batch needs it.
 *
 * Differences from the PIL pipeline of the original code: images stay float in [0, 1] between
 * steps (PIL rounds to uint8 after each); see `geometry.ts` and `blur.ts` for the crop-edge
 * and blur-boundary details.
 */
import { tf } from "../tf.ts";
import type { Rng } from "../rng.ts";
import { parseRecipe, type ViewRecipe } from "./recipe.ts";
import { sampleViewParams, type ViewParams } from "./params.ts";
import { paddedCrop, resizedCrop } from "./geometry.ts";
import {
  adjustBrightness,
  adjustContrast,
  adjustHue,
  adjustSaturation,
  grayscale,
  normalize,
  solarize,
} from "./color.ts";
import { gaussianBlur } from "./blur.ts";

/** Per-channel normalisation constants. */
export interface Normalization {
  mean: number[];
  std: number[];
}

/**
 * A randomly augmented, normalised view of x (float32 NHWC in [0, 1]); same shape.
 *
 * @example
 * const v1 = augment(images, recipes.cifarView1, rng, { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.243, 0.261] });
 */
export function augment(
  x: tf.Tensor4D,
  recipe: ViewRecipe,
  rng: Rng,
  norm: Normalization,
): tf.Tensor4D {
  if (x.rank !== 4) throw new Error(`augment: expected NHWC images, got shape ${x.shape}`);
  const [n, h, w, c] = x.shape;
  if (c !== 1 && c !== 3) throw new Error(`augment: images need 1 or 3 channels, got ${c}`);
  const valid = parseRecipe(recipe);
  const params = sampleViewParams(n, h, w, valid, rng);
  return tf.tidy(() => normalize(applyView(x, valid, params), norm));
}

/** The view's transforms with given parameters, before normalisation (exported for tests). */
export function applyView(x: tf.Tensor4D, recipe: ViewRecipe, p: ViewParams): tf.Tensor4D {
  return tf.tidy(() => {
    let y = x;
    const crop = recipe.crop;
    if (crop.kind === "resized") y = resizedCrop(y, p.crops!, p.flips);
    else if (crop.kind === "pad") y = paddedCrop(y, crop.padding, p.crops!, p.flips);
    else if (p.flips.some(Boolean)) {
      y = paddedCrop(y, 0, p.flips.map(() => ({ top: 0, left: 0 })), p.flips);
    }

    if (p.jitter.some(Boolean)) y = colorJitter(y, recipe, p);
    if (p.grayscale.some(Boolean)) y = grayscale(y, p.grayscale);
    const blurred = indicesWhere(p.blurSigma.map((s) => s > 0));
    if (blurred.length) {
      y = applyToSubset(y, blurred, (sub) => gaussianBlur(sub, blurred.map((i) => p.blurSigma[i])));
    }
    if (p.solarize.some(Boolean)) y = solarize(y, p.solarize, recipe.solarize.threshold);
    return y;
  });
}

function colorJitter(x: tf.Tensor4D, recipe: ViewRecipe, p: ViewParams): tf.Tensor4D {
  const cj = recipe.colorJitter;
  const strength = [cj.brightness, cj.contrast, cj.saturation, cj.hue];
  const ops = [adjustBrightness, adjustContrast, adjustSaturation, adjustHue];
  let y = x;
  for (let op = 0; op < 4; op++) {
    if (strength[op] === 0) continue;
    // images without jitter carry identity factors (params.ts)
    y = ops[op](y, p.jitterFactors.map((f) => f[op]));
  }
  return y;
}

function indicesWhere(mask: boolean[]): number[] {
  const out: number[] = [];
  mask.forEach((m, i) => m && out.push(i));
  return out;
}

/**
 * fn applied to the images at `indices` only; the others pass through exactly. Merged by
 * adding the scattered change (x + scatter(fn(sub) - sub)): gather and concat are slow on
 * wasm, scatterND is not.
 */
function applyToSubset(
  x: tf.Tensor4D,
  indices: number[],
  fn: (sub: tf.Tensor4D) => tf.Tensor4D,
): tf.Tensor4D {
  if (indices.length === x.shape[0]) return fn(x);
  return tf.tidy(() => {
    const idx = tf.tensor2d(indices, [indices.length, 1], "int32");
    const sub = tf.gather(x, idx.reshape([indices.length]));
    return x.add(tf.scatterND(idx, fn(sub).sub(sub), x.shape)) as tf.Tensor4D;
  });
}
