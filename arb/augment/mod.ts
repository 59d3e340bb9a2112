/** Batched, seeded image augmentations and the view recipes (docs/contracts.md "Augmentations"). */
export { applyView, augment, type Normalization } from "./augment.ts";
export { parseRecipe, type RecipeName, recipes, SOLARIZE_THRESHOLD, ViewRecipe } from "./recipe.ts";
export { JITTER_OPS, resizedCropBox, sampleViewParams, type ViewParams } from "./params.ts";
export { type CropBox, paddedCrop, resizedCrop } from "./geometry.ts";
export {
  adjustBrightness,
  adjustContrast,
  adjustHue,
  adjustSaturation,
  grayscale,
  LUMA,
  luma,
  mixChannels,
  normalize,
  solarize,
} from "./color.ts";
export { blurMatrix, gaussianBlur } from "./blur.ts";
