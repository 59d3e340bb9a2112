/**
 * Training-mode batch normalisation as two fused kernels for the wasm backend.
 *
 * Composed of tfjs ops, one BN layer costs about a dozen passes over its activations (mean,
 * centring, square, mean, scale, shift, ReLU, the saved copies; more in the backward pass),
 * each a separate wasm call with broadcasting, and together they took about a fifth of a convnet
 * training step. Here the forward is two passes over the heap (shifted per-channel sums in
 * float64, then y = max(x * scale + shift, 0)) and the backward two more (per-channel sums of
 * g and g * (x - mean), then dx), where g is dy masked by y > 0 when the ReLU is fused.
 *
 * The loops run in WebAssembly SIMD on tfjs's heap (`simd.ts`) when the channel count is a
 * multiple of 4, in JavaScript otherwise.
 *
 * x is viewed as [P, C] (every axis but the last is reduced). Outputs of the forward:
 * y, the batch mean and the biased variance (for the running statistics) and 1 / sqrt(var + eps);
 * of the backward: dx, dgamma, dbeta. The layer (`arb/models/layers.ts`) uses these kernels
 * when the active backend registers them and the op composition otherwise.
 */
import { tf } from "../tf.ts";
import { simdKernels, splitPoint } from "./simd.ts";

type Info = tf.TensorInfo;
type HeapBackend = tf.KernelBackend & {
  makeOutput(shape: number[], dtype: tf.DataType): Info;
  typedArrayFromHeap(t: Info): Float32Array;
};

/** Kernel name of the fused training-mode forward (inputs x, gamma, beta; attrs relu, eps). */
export const BATCH_NORM_TRAIN = "ArbBatchNormTrain";
/** Kernel name of its gradient (inputs dy, x, mean, invstd, gamma, y; attr relu). */
export const BATCH_NORM_TRAIN_GRAD = "ArbBatchNormTrainGrad";

const size = (t: Info) => t.shape.reduce((a, b) => a * b, 1);

/** Per-channel sums of the forward: s1 = sum(x - shift), s2 = sum((x - shift)^2). */
interface ForwardSums {
  shift: Float32Array;
  s1: Float64Array;
  s2: Float64Array;
}

/** Forward kernel function (see module doc). */
export const batchNormTrain: tf.KernelFunc = ({ inputs, attrs, backend }) => {
  const b = backend as HeapBackend;
  const { x, gamma, beta } = inputs as { x: Info; gamma: Info; beta: Info };
  const { relu, eps } = attrs as unknown as { relu: boolean; eps: number };
  const c = x.shape[x.shape.length - 1];
  const p = size(x) / c;
  const y = b.makeOutput(x.shape, "float32");
  const meanOut = b.makeOutput([c], "float32");
  const varOut = b.makeOutput([c], "float32");
  const invOut = b.makeOutput([c], "float32");
  // Per channel, from the sums: mean, variance, 1/std, and y = x * scale + offset.
  const finish = ({ shift, s1, s2 }: ForwardSums, scale: Float32Array, offset: Float32Array) => {
    const g = b.typedArrayFromHeap(gamma), be = b.typedArrayFromHeap(beta);
    const mean = b.typedArrayFromHeap(meanOut), variance = b.typedArrayFromHeap(varOut);
    const invstd = b.typedArrayFromHeap(invOut);
    for (let j = 0; j < c; j++) {
      const m = s1[j] / p;
      const v = Math.max(s2[j] / p - m * m, 0);
      const inv = 1 / Math.sqrt(v + eps);
      mean[j] = shift[j] + m;
      variance[j] = v;
      invstd[j] = inv;
      scale[j] = g[j] * inv;
      offset[j] = be[j] - (shift[j] + m) * g[j] * inv;
    }
  };
  const simd = c % 4 === 0 ? simdKernels(backend) : null;
  if (simd) {
    // rows [0, p1) here, [p1, p) on the helper thread, each with its own sums
    const p1 = splitPoint(p, c), rb = 4 * c;
    const sizes = [4 * c, 8 * c, 8 * c, 4 * c, 4 * c, 4 * c, 4 * c, 8 * c, 8 * c, 4 * c, 4 * c];
    simd.scratch(sizes, ([shiftP, s1P, s2P, scP, ofP, t1P, t2P, u1P, u2P, v1P, v2P]) => {
      const buf = simd.buffer(), xa = simd.address(x), ya = simd.address(y);
      const sums = {
        shift: new Float32Array(buf, shiftP, c),
        s1: new Float64Array(buf, s1P, c),
        s2: new Float64Array(buf, s2P, c),
      };
      const [u1, u2] = [new Float64Array(buf, u1P, c), new Float64Array(buf, u2P, c)];
      sums.shift.set(new Float32Array(buf, xa, c));
      for (const a of [sums.s1, sums.s2, u1, u2]) a.fill(0);
      for (const q of [t1P, t2P, v1P, v2P]) new Float32Array(buf, q, c).fill(0);
      const rest = p - p1;
      simd.split(
        "bn_stats",
        [xa, p1, c, shiftP, s1P, s2P, t1P, t2P],
        rest ? [xa + p1 * rb, rest, c, shiftP, u1P, u2P, v1P, v2P] : [],
      );
      for (let j = 0; j < c; j++) {
        sums.s1[j] += u1[j];
        sums.s2[j] += u2[j];
      }
      finish(sums, new Float32Array(buf, scP, c), new Float32Array(buf, ofP, c));
      const r = relu ? 1 : 0;
      simd.split(
        "bn_apply",
        [xa, ya, p1, c, scP, ofP, r],
        rest ? [xa + p1 * rb, ya + p1 * rb, rest, c, scP, ofP, r] : [],
      );
    });
    return [y, meanOut, varOut, invOut];
  }
  // views after every allocation: the heap may have grown
  const xs = b.typedArrayFromHeap(x), ys = b.typedArrayFromHeap(y);
  // Sums of x - x[0, c] (a shift that avoids cancellation when |mean| >> std).
  const shift = Float32Array.from(xs.subarray(0, c));
  const s1 = new Float64Array(c), s2 = new Float64Array(c);
  for (let i = 0, o = 0; i < p; i++) {
    for (let j = 0; j < c; j++, o++) {
      const d = xs[o] - shift[j];
      s1[j] += d;
      s2[j] += d * d;
    }
  }
  const sc = new Float32Array(c), of = new Float32Array(c);
  finish({ shift, s1, s2 }, sc, of);
  // Branch-free loops: a data-dependent branch per element (ReLU, its mask) mispredicts about
  // half the time and made these passes 5x slower; max(v, 0) = (v + |v|) / 2 exactly.
  if (relu) {
    for (let i = 0, o = 0; i < p; i++) {
      for (let j = 0; j < c; j++, o++) {
        const v = xs[o] * sc[j] + of[j];
        ys[o] = (v + Math.abs(v)) * 0.5;
      }
    }
  } else {
    for (let i = 0, o = 0; i < p; i++) {
      for (let j = 0; j < c; j++, o++) ys[o] = xs[o] * sc[j] + of[j];
    }
  }
  return [y, meanOut, varOut, invOut];
};

/** Gradient kernel function: [dx, dgamma, dbeta] (see module doc). */
export const batchNormTrainGrad: tf.KernelFunc = ({ inputs, attrs, backend }) => {
  const b = backend as HeapBackend;
  const { dy, x, mean, invstd, gamma, y } = inputs as Record<string, Info>;
  const { relu } = attrs as unknown as { relu: boolean };
  const c = x.shape[x.shape.length - 1];
  const p = size(x) / c;
  const dxOut = b.makeOutput(x.shape, "float32");
  const dgOut = b.makeOutput([c], "float32");
  const dbOut = b.makeOutput([c], "float32");
  // dx = k (g - sum(g)/P - xhat sum(g xhat)/P), xhat = (x - mean) invstd, k = gamma invstd:
  // dx = k g + a x + d with a = -k invstd^2 sum(g (x - mean)) / P, d = -k sum(g)/P - a mean.
  const coefficients = (
    sg: Float64Array,
    sgx: Float64Array,
    k: Float32Array,
    a: Float32Array,
    d: Float32Array,
  ) => {
    const mu = b.typedArrayFromHeap(mean), inv = b.typedArrayFromHeap(invstd);
    const ga = b.typedArrayFromHeap(gamma);
    const dgamma = b.typedArrayFromHeap(dgOut), dbeta = b.typedArrayFromHeap(dbOut);
    for (let j = 0; j < c; j++) {
      const kj = ga[j] * inv[j];
      const aj = -kj * inv[j] * inv[j] * sgx[j] / p;
      k[j] = kj;
      a[j] = aj;
      d[j] = -kj * sg[j] / p - aj * mu[j];
      dgamma[j] = sgx[j] * inv[j];
      dbeta[j] = sg[j];
    }
  };
  const simd = c % 4 === 0 ? simdKernels(backend) : null;
  if (simd) {
    const p1 = splitPoint(p, c), rb = 4 * c, rest = p - p1;
    const sizes = [8 * c, 8 * c, 4 * c, 4 * c, 4 * c, 4 * c, 4 * c, 8 * c, 8 * c, 4 * c, 4 * c];
    simd.scratch(sizes, ([sgP, sgxP, kP, aP, dP, t1P, t2P, u1P, u2P, v1P, v2P]) => {
      const buf = simd.buffer();
      const sg = new Float64Array(buf, sgP, c), sgx = new Float64Array(buf, sgxP, c);
      const [u1, u2] = [new Float64Array(buf, u1P, c), new Float64Array(buf, u2P, c)];
      for (const a of [sg, sgx, u1, u2]) a.fill(0);
      for (const q of [t1P, t2P, v1P, v2P]) new Float32Array(buf, q, c).fill(0);
      const [dya, xa, ma] = [simd.address(dy), simd.address(x), simd.address(mean)];
      // without ReLU the mask is "keep all" and y is not read: x stands in for it
      const ya = relu ? simd.address(y) : xa;
      const r = relu ? 1 : 0;
      const o = p1 * rb;
      simd.split(
        "bn_grad_stats",
        [dya, xa, ya, p1, c, ma, sgP, sgxP, r, t1P, t2P],
        rest ? [dya + o, xa + o, ya + o, rest, c, ma, u1P, u2P, r, v1P, v2P] : [],
      );
      for (let j = 0; j < c; j++) {
        sg[j] += u1[j];
        sgx[j] += u2[j];
      }
      coefficients(
        sg,
        sgx,
        new Float32Array(buf, kP, c),
        new Float32Array(buf, aP, c),
        new Float32Array(buf, dP, c),
      );
      const dxa = simd.address(dxOut);
      simd.split(
        "bn_grad_apply",
        [dya, xa, ya, dxa, p1, c, kP, aP, dP, r],
        rest ? [dya + o, xa + o, ya + o, dxa + o, rest, c, kP, aP, dP, r] : [],
      );
    });
    return [dxOut, dgOut, dbOut];
  }
  const dys = b.typedArrayFromHeap(dy), xs = b.typedArrayFromHeap(x);
  // without ReLU the mask y > 0 is replaced by "always" (a buffer of ones would cost a pass)
  const ys = relu ? b.typedArrayFromHeap(y) : null;
  const mu = Float32Array.from(b.typedArrayFromHeap(mean));
  const sg = new Float64Array(c), sgx = new Float64Array(c);
  for (let i = 0, o = 0; i < p; i++) {
    if (ys) {
      for (let j = 0; j < c; j++, o++) {
        const g = dys[o] * +(ys[o] > 0);
        sg[j] += g;
        sgx[j] += g * (xs[o] - mu[j]);
      }
    } else {
      for (let j = 0; j < c; j++, o++) {
        const g = dys[o];
        sg[j] += g;
        sgx[j] += g * (xs[o] - mu[j]);
      }
    }
  }
  const k = new Float32Array(c), a = new Float32Array(c), d = new Float32Array(c);
  coefficients(sg, sgx, k, a, d);
  const dx = b.typedArrayFromHeap(dxOut);
  for (let i = 0, o = 0; i < p; i++) {
    if (ys) {
      for (let j = 0; j < c; j++, o++) {
        dx[o] = k[j] * (dys[o] * +(ys[o] > 0)) + a[j] * xs[o] + d[j];
      }
    } else {
      for (let j = 0; j < c; j++, o++) dx[o] = k[j] * dys[o] + a[j] * xs[o] + d[j];
    }
  }
  return [dxOut, dgOut, dbOut];
};

/**
 * `Identity` without a copy: the result shares the input's buffer (reference counted, as the
 * wasm `Reshape` already does). tfjs clones every tensor it saves for backprop, and the wasm
 * original copies each one; no wasm kernel writes into its inputs, so sharing is safe. Strings
 * go to the original kernel.
 */
export function makeSharedIdentity(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const x = (args.inputs as { x: Info }).x;
    if (x.dtype === "string") return original(args);
    (args.backend as tf.KernelBackend & { incRef(id: unknown): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}
