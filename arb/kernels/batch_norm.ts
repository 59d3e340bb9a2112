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
 * x is viewed as [P, C] (every axis but the last is reduced). Outputs of the forward:
 * y, the batch mean and the biased variance (for the running statistics) and 1 / sqrt(var + eps);
 * of the backward: dx, dgamma, dbeta. The layer (`arb/models/layers.ts`) uses these kernels
 * when the active backend registers them and the op composition otherwise.
 */
import { tf } from "../tf.ts";

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
  // views after every allocation: the heap may have grown
  const xs = b.typedArrayFromHeap(x), ys = b.typedArrayFromHeap(y);
  const g = b.typedArrayFromHeap(gamma), be = b.typedArrayFromHeap(beta);
  // Sums of x - x[0, c] (a shift that avoids cancellation when |mean| >> std).
  const shift = Float64Array.from(xs.subarray(0, c));
  const s1 = new Float64Array(c), s2 = new Float64Array(c);
  for (let i = 0, o = 0; i < p; i++) {
    for (let j = 0; j < c; j++, o++) {
      const d = xs[o] - shift[j];
      s1[j] += d;
      s2[j] += d * d;
    }
  }
  const scale = new Float64Array(c), offset = new Float64Array(c);
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
  const sc = Float32Array.from(scale), of = Float32Array.from(offset);
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
  const dys = b.typedArrayFromHeap(dy), xs = b.typedArrayFromHeap(x);
  // without ReLU the mask y > 0 is replaced by "always" (a buffer of ones would cost a pass)
  const ys = relu ? b.typedArrayFromHeap(y) : null;
  const mu = Float32Array.from(b.typedArrayFromHeap(mean));
  const inv = b.typedArrayFromHeap(invstd), ga = b.typedArrayFromHeap(gamma);
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
  // dx = k (g - sum(g)/P - xhat sum(g xhat)/P), xhat = (x - mean) invstd, k = gamma invstd:
  // dx = k g + a x + d with a = -k invstd^2 sum(g (x - mean)) / P, d = -k sum(g)/P - a mean.
  const dgamma = b.typedArrayFromHeap(dgOut), dbeta = b.typedArrayFromHeap(dbOut);
  const k = new Float32Array(c), a = new Float32Array(c), d = new Float32Array(c);
  for (let j = 0; j < c; j++) {
    const kj = ga[j] * inv[j];
    const aj = -kj * inv[j] * inv[j] * sgx[j] / p;
    k[j] = kj;
    a[j] = aj;
    d[j] = -kj * sg[j] / p - aj * mu[j];
    dgamma[j] = sgx[j] * inv[j];
    dbeta[j] = sg[j];
  }
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
