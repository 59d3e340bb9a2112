/**
 * Resize with antialiasing: the shorter side is scaled to `size` and the center `size x size`
 * square is kept. The filter is a triangle (bilinear) whose support widens with the scale
 * when shrinking, the same convolution scheme as Pillow's `Image.resize(..., BILINEAR)`, so
 * downscaling averages every input pixel instead of sampling a few.
 */

interface Taps {
  start: Int32Array;
  count: Int32Array;
  /** out x maxTaps weights, each row summing to 1. */
  weights: Float64Array;
  maxTaps: number;
}

/** Filter taps mapping `inLen` input pixels to `outLen` outputs starting at input `offset`. */
function taps(inLen: number, outLen: number, scale: number, offset: number): Taps {
  const filterScale = Math.max(1, scale);
  const support = filterScale; // triangle radius 1, stretched when shrinking
  const maxTaps = Math.ceil(support) * 2 + 2;
  const start = new Int32Array(outLen), count = new Int32Array(outLen);
  const weights = new Float64Array(outLen * maxTaps);
  for (let o = 0; o < outLen; o++) {
    const center = offset + (o + 0.5) * scale;
    const lo = Math.max(0, Math.floor(center - support));
    const hi = Math.min(inLen, Math.ceil(center + support));
    let total = 0;
    for (let i = lo; i < hi; i++) {
      const w = Math.max(0, 1 - Math.abs((i + 0.5 - center) / filterScale));
      weights[o * maxTaps + i - lo] = w;
      total += w;
    }
    if (total === 0) {
      // Only at the very edge of a degenerate window: take the nearest pixel.
      weights[o * maxTaps] = 1;
      total = 1;
    }
    for (let k = 0; k < hi - lo; k++) weights[o * maxTaps + k] /= total;
    start[o] = lo;
    count[o] = hi - lo;
  }
  return { start, count, weights, maxTaps };
}

/**
 * Resizes an H x W x C uint8 image so its shorter side is `size`, then center-crops to
 * `size x size`.
 *
 * @example
 * const out = resizeCenterCrop(rgb, 500, 375, 3, 64); // 64 x 64 x 3
 */
export function resizeCenterCrop(
  src: Uint8Array,
  width: number,
  height: number,
  channels: number,
  size: number,
): Uint8Array {
  if (src.length !== width * height * channels) {
    throw new Error(`image buffer of ${src.length} bytes is not ${width}x${height}x${channels}`);
  }
  const scale = Math.min(width, height) / size;
  const tx = taps(width, size, scale, (width - size * scale) / 2);
  const ty = taps(height, size, scale, (height - size * scale) / 2);
  const c = channels;
  // Horizontal pass over the rows the vertical pass reads.
  const rowLo = ty.start[0];
  const rowHi = ty.start[size - 1] + ty.count[size - 1];
  const mid = new Float64Array((rowHi - rowLo) * size * c);
  for (let y = rowLo; y < rowHi; y++) {
    for (let x = 0; x < size; x++) {
      const base = x * tx.maxTaps, s = tx.start[x], n = tx.count[x];
      for (let ch = 0; ch < c; ch++) {
        let acc = 0;
        for (let k = 0; k < n; k++) {
          acc += tx.weights[base + k] * src[((y * width) + s + k) * c + ch];
        }
        mid[((y - rowLo) * size + x) * c + ch] = acc;
      }
    }
  }
  const out = new Uint8Array(size * size * c);
  for (let y = 0; y < size; y++) {
    const base = y * ty.maxTaps, s = ty.start[y] - rowLo, n = ty.count[y];
    for (let x = 0; x < size; x++) {
      for (let ch = 0; ch < c; ch++) {
        let acc = 0;
        for (let k = 0; k < n; k++) {
          acc += ty.weights[base + k] * mid[((s + k) * size + x) * c + ch];
        }
        out[(y * size + x) * c + ch] = Math.min(255, Math.max(0, Math.round(acc)));
      }
    }
  }
  return out;
}
