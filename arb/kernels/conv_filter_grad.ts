/**
 * `Conv2DBackpropFilter` for the wasm backend, which lacks it, on the backend's fast paths:
 * - accumulated from x and dy in WebAssembly SIMD, no im2col (`directFilterGrad`): register
 *   tiles of 4 input x 8 output channels summed over the batch when the channels allow it, else,
 *   for few input channels (a first layer), pixel by pixel;
 * - otherwise dW[kh, kw, ci, co] = sum_{n, oh, ow} x[n, oh*s + kh - pt, ow*s + kw - pl, ci]
 *   * dy[n, oh, ow, co] is patches^T dy, with the transposed patches [KH*KW*Ci, N*OH*OW] built on
 *   the heap (im2col; in SIMD when the channels are a multiple of 4) and one XNNPACK matmul;
 * - when the patches would be too big: with x' = x as [ci, H, W, n] (batch <-> channels) and
 *   dy' = dy as [OH, OW, n, co] (a filter), it is conv2d(x', dy', stride 1, dilation s) giving
 *   [ci, KH, KW, co], transposed to [KH, KW, ci, co].
 */
import type { tf } from "../tf.ts";
import { simdKernels, splitPoint } from "./simd.ts";
import {
  type Backend,
  convInfo,
  type HeapBackend,
  type Info,
  kernel,
  type Pads,
} from "./conv_common.ts";

/** Forces one filter-gradient algorithm (tests); `undefined` chooses by shape. */
export const filterGradPath: { force?: "im2col" | "conv" | "direct" | "tiled" } = {};

/** Most input channels for the direct (SIMD, no im2col) filter gradient. */
export const DIRECT_MAX_CHANNELS = 4;

/**
 * Least batch for the tiled SIMD filter gradient (tests lower it): its innermost loop runs over
 * the images. At
 * batch 256 it ran at 1.3 to 2.1 times the speed of im2col + XNNPACK on the convnet's layers
 * (28 to 37 GFLOP/s on 2 threads); at batch 64 on ResNet-18's layers it was up to 1.6 times
 * slower (short inner loops, and a memory page per image and tile).
 */
export const tiledTuning = { minBatch: 128 };

/** Largest patch matrix (floats) the im2col filter gradient builds: 256 MB. */
export const IM2COL_MAX_FLOATS = 1 << 26;

/**
 * Which filter-gradient algorithm to use. With the patch fill ordered by output row, the
 * im2col form matched or beat the conv form on every ResNet-18 and convnet layer measured
 * here (the conv form streams its huge dy "filter" once per few output rows and transposes
 * x with a slow rank-4 transpose); the conv form remains for patch matrices too big to build.
 */
function useIm2col(patchFloats: number): boolean {
  if (filterGradPath.force) return filterGradPath.force === "im2col";
  return patchFloats <= IM2COL_MAX_FLOATS;
}

/**
 * The filter gradient accumulated from x and dy in WebAssembly SIMD (`simd.wat`), without im2col:
 * - "tiled" (input channels a multiple of 4, output channels of 8, batch at least
 *   `tiledTuning.minBatch`): per output pixel and tap, a 4 x 8 tile of dW summed over the batch
 *   in registers;
 * - "direct" (at most {@link DIRECT_MAX_CHANNELS} input channels: a first layer, 1 for
 *   grayscale, 3 for RGB): pixel by pixel, sums in memory.
 * The im2col form spends much of its time outside the product: the patch fill, and XNNPACK
 * re-packing dy (the whole gradient, P x co) as the matmul's weights on every call; and
 * XNNPACK's matmul streams that packed dy once per few patch rows, since P (N*OH*OW) is long.
 * Images are split in two halves (the helper thread takes one, into its own sums, added after).
 * Null when neither applies (or SIMD is unavailable).
 */
function directFilterGrad(
  backend: unknown,
  x: Info,
  dy: Info,
  info: tf.backend_util.Conv2DInfo,
): Info | null {
  const [n, h, w, ci] = x.shape;
  const co = dy.shape[3];
  const forced = filterGradPath.force;
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) return null;
  const tiled = ci % 4 === 0 && co % 8 === 0 &&
    (forced === "tiled" || (forced === undefined && n >= tiledTuning.minBatch));
  const direct = ci <= DIRECT_MAX_CHANNELS && co % 4 === 0 &&
    (forced === undefined || forced === "direct");
  if (!tiled && !direct) return null;
  const simd = simdKernels(backend);
  if (!simd) return null;
  const b = backend as Backend & HeapBackend;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const out = b.makeOutput([kh, kw, ci, co], "float32");
  const size = kh * kw * ci * co;
  // images [0, n1) here into out, [n1, n) on the helper thread into a second buffer; then added
  const n1 = splitPoint(n, dy.shape[1] * dy.shape[2] * co), rest = n - n1;
  simd.scratch([4 * size], ([other]) => {
    const buf = simd.buffer();
    const dw = new Float32Array(buf, simd.address(out), size),
      dw2 = new Float32Array(buf, other, size);
    dw.fill(0);
    dw2.fill(0);
    const [xa, dya] = [simd.address(x), simd.address(dy)];
    const geometry = [ci, dy.shape[1], dy.shape[2], co, kh, kw, sh, sw, info.padInfo.top];
    const args = (x0: number, dy0: number, acc: number, count: number) => [
      x0,
      dy0,
      acc,
      count,
      h,
      w,
      ...geometry,
      info.padInfo.left,
    ];
    simd.split(
      tiled ? "conv_filter_grad_tiled" : "conv_filter_grad_direct",
      args(xa, dya, simd.address(out), n1),
      rest
        ? args(xa + 4 * n1 * h * w * ci, dya + 4 * n1 * dy.shape[1] * dy.shape[2] * co, other, rest)
        : [],
    );
    for (let i = 0; i < size; i++) dw[i] += dw2[i];
  });
  return out;
}

/** dW = patches^T dy, with patches^T [KH*KW*Ci, P] built on the heap in one pass. */
function filterGradIm2col(
  b: Backend & HeapBackend,
  backendName: string,
  x: Info,
  dy: Info,
  info: tf.backend_util.Conv2DInfo,
): Info {
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  const { top: pt, left: pl } = info.padInfo;
  const [n, h, w, ci] = x.shape;
  const [, oh, ow, co] = dy.shape;
  const rows = kh * kw * ci, p = n * oh * ow;
  const pT = b.makeOutput([1, rows, p], "float32");
  // Output columns whose input column xo*sw + j - pl lies inside the image, per tap column j.
  const xlos: number[] = [], xhis: number[] = [];
  for (let j = 0; j < kw; j++) {
    const xlo = Math.min(ow, Math.max(0, Math.ceil((pl - j) / sw)));
    xlos.push(xlo);
    xhis.push(Math.max(xlo, Math.min(ow, Math.floor((w - 1 - j + pl) / sw) + 1)));
  }
  const simd = ci % 4 === 0 ? simdKernels(b) : null;
  if (simd) {
    // the same fill in WebAssembly SIMD: four channels per load, one lane into each patch row
    simd.scratch([8 * kw], ([ranges]) => {
      const r = new Int32Array(simd.buffer(), ranges, 2 * kw);
      for (let j = 0; j < kw; j++) [r[2 * j], r[2 * j + 1]] = [xlos[j], xhis[j]];
      const [xa, pa] = [simd.address(x), simd.address(pT)];
      const args = (x0: number, p0: number, count: number) => [
        x0,
        p0,
        count,
        h,
        w,
        ci,
        oh,
        ow,
        kh,
        kw,
        sh,
        sw,
        pt,
        pl,
        ranges,
        p,
      ];
      // images [0, n1) here, the rest on the helper thread (their own patch columns)
      const n1 = splitPoint(n, rows * oh * ow), rest = n - n1;
      simd.split(
        "im2col_transposed",
        args(xa, pa, n1),
        rest ? args(xa + 4 * n1 * h * w * ci, pa + 4 * n1 * oh * ow, rest) : [],
      );
    });
  } else {
    const src = b.typedArrayFromHeap(x), dst = b.typedArrayFromHeap(pT);
    fillPatchesTransposed(src, dst, x.shape, dy.shape, info, xlos, xhis);
  }
  const dy3 = kernel(b, backendName, "Reshape", { x: dy }, { shape: [1, p, co] });
  const g = kernel(b, backendName, "BatchMatMul", { a: pT, b: dy3 }, {
    transposeA: false,
    transposeB: false,
  });
  const out = kernel(b, backendName, "Reshape", { x: g }, { shape: [kh, kw, ci, co] });
  for (const t of [pT, dy3, g]) b.disposeData(t.dataId);
  return out;
}

/** The im2col fill of {@link filterGradIm2col} in JavaScript (any channel count). */
function fillPatchesTransposed(
  src: Float32Array,
  dst: Float32Array,
  [n, h, w, ci]: number[],
  [, oh, ow]: number[],
  info: tf.backend_util.Conv2DInfo,
  xlos: number[],
  xhis: number[],
): void {
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  const { top: pt, left: pl } = info.padInfo;
  const p = n * oh * ow;
  const step = sw * ci;
  const c4 = ci - (ci % 4);

  // One output row (b0, y) at a time: its input rows stay in cache while every patch row
  // receives its ow-long segment; four channels per pass over the segment (four adjacent
  // reads, four patch rows), which halves the loop overhead of the few-channel layers.
  for (let b0 = 0; b0 < n; b0++) {
    for (let y = 0; y < oh; y++) {
      const col = (b0 * oh + y) * ow;
      for (let i = 0; i < kh; i++) {
        const iy = y * sh + i - pt;
        const inside = iy >= 0 && iy < h;
        for (let j = 0; j < kw; j++) {
          const xlo = xlos[j], xhi = xhis[j];
          const d0 = (i * kw + j) * ci * p + col;
          if (!inside) {
            for (let c = 0; c < ci; c++) dst.fill(0, d0 + c * p, d0 + c * p + ow);
            continue;
          }
          if (xlo > 0 || xhi < ow) {
            for (let c = 0; c < ci; c++) {
              const d = d0 + c * p;
              for (let xo = 0; xo < xlo; xo++) dst[d + xo] = 0;
              for (let xo = xhi; xo < ow; xo++) dst[d + xo] = 0;
            }
          }
          const sBase = ((b0 * h + iy) * w + xlo * sw + j - pl) * ci;
          let c = 0;
          for (; c < c4; c += 4) {
            const d = d0 + c * p;
            let s0 = sBase + c;
            for (let xo = xlo; xo < xhi; xo++, s0 += step) {
              dst[d + xo] = src[s0];
              dst[d + p + xo] = src[s0 + 1];
              dst[d + 2 * p + xo] = src[s0 + 2];
              dst[d + 3 * p + xo] = src[s0 + 3];
            }
          }
          for (; c < ci; c++) {
            const d = d0 + c * p;
            let s0 = sBase + c;
            for (let xo = xlo; xo < xhi; xo++, s0 += step) dst[d + xo] = src[s0];
          }
        }
      }
    }
  }
}

/** Kernel function for `Conv2DBackpropFilter` built on `Conv2D` (see module doc). */
export function makeConv2DBackpropFilter(backendName: string): tf.KernelFunc {
  return ({ inputs, attrs, backend }) => {
    const b = backend as Backend;
    const { x, dy } = inputs as { x: Info; dy: Info };
    const filterShape = (attrs as { filterShape: number[] }).filterShape;
    const info = convInfo(x.shape, filterShape, attrs as Record<string, unknown>);
    const rows = info.filterHeight * info.filterWidth * x.shape[3];
    const direct = directFilterGrad(backend, x, dy, info);
    if (direct) return direct;
    if (useIm2col(rows * x.shape[0] * info.outHeight * info.outWidth)) {
      return filterGradIm2col(b as Backend & HeapBackend, backendName, x, dy, info);
    }
    const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
    const { top: pt, left: pl } = info.padInfo;
    const [n, h, w, ci] = x.shape;
    const [, oh, ow, co] = dy.shape;
    const temps: Info[] = [];
    const run = (name: string, ins: Record<string, Info>, at: Record<string, unknown> = {}) => {
      const out = kernel(b, backendName, name, ins, at);
      temps.push(out);
      return out;
    };
    // Rows of x that the conv reads: the dilated filter spans (OH-1)*s + 1 rows starting at
    // row kh_index - pt; pad or crop x so that the output is exactly KH x KW.
    const padB = kh - 1 + (oh - 1) * sh + 1 - pt - h;
    const padR = kw - 1 + (ow - 1) * sw + 1 - pl - w;
    let xc: Info = x;
    if (padB < 0 || padR < 0) {
      xc = run("Slice", { x }, {
        begin: [0, 0, 0, 0],
        size: [n, h + Math.min(padB, 0), w + Math.min(padR, 0), ci],
      });
    }
    const xT = run("Transpose", { x: xc }, { perm: [3, 1, 2, 0] });
    const dyT = run("Transpose", { x: dy }, { perm: [1, 2, 0, 3] });
    const pads: Pads = [[0, 0], [pt, Math.max(padB, 0)], [pl, Math.max(padR, 0)], [0, 0]];
    const g = run("Conv2D", { x: xT, filter: dyT }, {
      strides: [1, 1],
      pad: pads,
      dataFormat: "NHWC",
      dilations: [sh, sw],
    });
    if (g.shape[1] !== kh || g.shape[2] !== kw || g.shape[3] !== co) {
      throw new Error(
        `Conv2DBackpropFilter: internal shape ${g.shape} != [${ci},${kh},${kw},${co}]`,
      );
    }
    const out = kernel(b, backendName, "Transpose", { x: g }, { perm: [1, 2, 0, 3] });
    for (const t of temps) if (t !== x) b.disposeData(t.dataId);
    return out;
  };
}
