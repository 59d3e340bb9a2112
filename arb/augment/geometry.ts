/**
 * Batched crops and flips with `tf.image.cropAndResize` (one box per image; its kernel exists
 * on the cpu and wasm backends): bilinear resized crops, and exact integer crops.
 */
import { tf } from "../tf.ts";

/** A crop in input pixels. */
export interface CropBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

/**
 * Crops box i of image i and resizes it bilinearly back to the input size, flipping
 * horizontally where `flips[i]`. Sampling follows torchvision / PIL resizing (pixel centres
 * aligned: output pixel r samples crop row (r + 0.5) h / H - 0.5); samples that fall outside
 * the image replicate its edge, as their clamping does. (At a crop edge inside the image, the
 * half-pixel border interpolates with the neighbouring image pixel where torchvision clamps
 * to the crop: a sub-pixel difference.)
 */
export function resizedCrop(x: tf.Tensor4D, boxes: CropBox[], flips: boolean[]): tf.Tensor4D {
  const [n, h, w] = x.shape;
  if (boxes.length !== n || flips.length !== n) {
    throw new Error(
      `resizedCrop: need ${n} boxes and flips, got ${boxes.length} and ${flips.length}`,
    );
  }
  if (h < 2 || w < 2) throw new Error(`resizedCrop: images must be at least 2x2, got ${h}x${w}`);
  // one pixel of edge replication so every half-pixel sample stays inside
  const hp = h + 2, wp = w + 2;
  const coords = new Float32Array(4 * n);
  boxes.forEach((b, i) => {
    const y1 = (b.top + 0.5 + 0.5 * b.height / h) / (hp - 1);
    const y2 = y1 + (b.height * (h - 1) / h) / (hp - 1);
    const x1 = (b.left + 0.5 + 0.5 * b.width / w) / (wp - 1);
    const x2 = x1 + (b.width * (w - 1) / w) / (wp - 1);
    coords.set(flips[i] ? [y1, x2, y2, x1] : [y1, x1, y2, x2], 4 * i);
  });
  return tf.tidy(() => {
    const padded = tf.mirrorPad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], "symmetric");
    return tf.image.cropAndResize(
      padded,
      tf.tensor2d(coords, [n, 4]),
      tf.range(0, n, 1, "int32") as tf.Tensor1D,
      [h, w],
      "bilinear",
    );
  });
}

/**
 * torchvision RandomCrop(size = input, padding) then RandomHorizontalFlip: the input-sized
 * window at (top, left) of the image zero-padded by `padding` on every side, flipped where
 * `flips[i]`. Exact: the image is zero-padded (asymmetrically) to a side of 2^k + 1, so every
 * box coordinate is a dyadic fraction and `cropAndResize` samples integer positions with zero
 * interpolation weight in float32 and float64 alike. (Its "nearest" mode is not used: on the
 * wasm backend it ignores the box's x offset.)
 */
export function paddedCrop(
  x: tf.Tensor4D,
  padding: number,
  offsets: { top: number; left: number }[],
  flips: boolean[],
): tf.Tensor4D {
  const [n, h, w] = x.shape;
  if (offsets.length !== n || flips.length !== n) {
    throw new Error(
      `paddedCrop: need ${n} offsets and flips, got ${offsets.length} and ${flips.length}`,
    );
  }
  const side = 2 ** Math.ceil(Math.log2(Math.max(h, w) + 2 * padding - 1)) + 1;
  const span = side - 1;
  const coords = new Float32Array(4 * n);
  offsets.forEach(({ top, left }, i) => {
    if (top < 0 || top > 2 * padding || left < 0 || left > 2 * padding) {
      throw new Error(`paddedCrop: offset (${top}, ${left}) outside [0, ${2 * padding}]`);
    }
    const y1 = top / span, y2 = (top + h - 1) / span, x1 = left / span, x2 = (left + w - 1) / span;
    coords.set(flips[i] ? [y1, x2, y2, x1] : [y1, x1, y2, x2], 4 * i);
  });
  return tf.tidy(() => {
    const padded = x.pad([[0, 0], [padding, side - h - padding], [padding, side - w - padding], [
      0,
      0,
    ]]);
    return tf.image.cropAndResize(
      padded as tf.Tensor4D,
      tf.tensor2d(coords, [n, 4]),
      tf.range(0, n, 1, "int32") as tf.Tensor1D,
      [h, w],
      "bilinear",
    );
  });
}
