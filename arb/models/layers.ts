/**
 * Functional layers over a `ParamStore`: convolution, batch normalisation, linear. Each layer
 * declares its variables once (`declare*`) and applies them by name, so weights carry
 * torchvision names and live in one place.
 */
import { tf } from "../tf.ts";
import type { Rng } from "../rng.ts";
import type { ParamStore } from "./params.ts";
import { filled, kaimingNormalFanOut, linearUniform } from "./init.ts";
import { BATCH_NORM_TRAIN, BATCH_NORM_TRAIN_GRAD } from "../kernels/mod.ts";

/** PyTorch BatchNorm defaults. */
export const BN_EPS = 1e-5;
/** PyTorch BatchNorm momentum: running = (1 - m) running + m batch. */
export const BN_MOMENTUM = 0.1;

/** Counts multiply-accumulates of conv and linear layers while set (for benchmarks). */
export const flopCounter = { enabled: false, macs: 0 };

/** Declares `name.weight` [k, k, cin, cout] with torchvision's kaiming init (no bias). */
export function declareConv(
  store: ParamStore,
  rng: Rng,
  name: string,
  k: number,
  cin: number,
  cout: number,
): void {
  store.param(`${name}.weight`, kaimingNormalFanOut(rng, k, k, cin, cout), [k, k, cin, cout]);
}

/**
 * conv2d with PyTorch padding semantics: symmetric explicit `pad` rows/columns (not TF "same",
 * which pads asymmetrically for stride 2 and would shift the sampling grid against PyTorch).
 */
export function convolve(
  store: ParamStore,
  name: string,
  x: tf.Tensor4D,
  stride: number,
  pad: number,
): tf.Tensor4D {
  const w = store.get(`${name}.weight`) as unknown as tf.Tensor4D;
  const y = tf.conv2d(x, w, stride, [[0, 0], [pad, pad], [pad, pad], [0, 0]]);
  if (flopCounter.enabled) {
    flopCounter.macs += y.size * w.shape[0] * w.shape[1] * w.shape[2];
  }
  return y;
}

/** Declares a BatchNorm: weight (gamma), bias (beta), running_mean, running_var, num_batches_tracked. */
export function declareBatchNorm(store: ParamStore, name: string, c: number, gamma = 1): void {
  store.param(`${name}.weight`, filled(c, gamma), [c]);
  store.param(`${name}.bias`, filled(c, 0), [c]);
  store.buffer(`${name}.running_mean`, tf.zeros([c]));
  store.buffer(`${name}.running_var`, tf.ones([c]));
  store.buffer(`${name}.num_batches_tracked`, tf.scalar(0, "int32"));
}

/**
 * Batch normalisation over every axis but the last (NHWC images or N x C features), with an
 * optional fused ReLU. Training: normalises with the batch statistics (biased variance, as
 * PyTorch) and updates the running statistics with momentum 0.1 (running_var from the
 * unbiased variance); the gradient is the closed form (fewer passes and fewer kept tensors
 * than autodiff through the moments: only xhat and the output are kept for backprop). On a
 * backend that registers the fused kernels (wasm: `arb/kernels/batch_norm.ts`) the same forward
 * and gradient run as two heap passes each. Eval: uses the running statistics.
 */
export function batchNorm<T extends tf.Tensor>(
  store: ParamStore,
  name: string,
  x: T,
  training: boolean,
  options: { relu?: boolean } = {},
): T {
  const gamma = store.get(`${name}.weight`);
  const beta = store.get(`${name}.bias`);
  const rm = store.get(`${name}.running_mean`);
  const rv = store.get(`${name}.running_var`);
  const relu = options.relu ?? false;
  if (!training) {
    return tf.tidy(() => {
      const scale = tf.mul(gamma, tf.rsqrt(tf.add(rv, BN_EPS)));
      const y = tf.add(tf.mul(x, scale), tf.sub(beta, tf.mul(rm, scale)));
      return (relu ? tf.relu(y) : y) as T;
    });
  }
  const axes = [...Array(x.rank - 1).keys()];
  const n = x.size / x.shape[x.rank - 1];
  if (n < 2) {
    throw new Error(`${name}: batch norm in training mode needs more than one value per channel`);
  }
  let batchMean: tf.Tensor | undefined, batchVar: tf.Tensor | undefined;
  const fused = tf.getKernel(BATCH_NORM_TRAIN, tf.getBackend()) !== undefined;
  const f = fused
    ? tf.customGrad((xi, g, b, save) => {
      const [y, mean, variance, invstd] = tf.engine().runKernel(
        BATCH_NORM_TRAIN,
        { x: xi as tf.Tensor, gamma: g as tf.Tensor, beta: b as tf.Tensor },
        { relu, eps: BN_EPS } as unknown as tf.NamedAttrMap,
      ) as tf.Tensor[];
      batchMean = tf.keep(mean);
      batchVar = tf.keep(variance);
      (save as tf.GradSaveFunc)([xi as tf.Tensor, mean, invstd, g as tf.Tensor, y]);
      return {
        value: y,
        gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
          const [sx, smean, sinv, sg, sy] = saved;
          const grads = tf.engine().runKernel(
            BATCH_NORM_TRAIN_GRAD,
            { dy: dy as tf.Tensor, x: sx, mean: smean, invstd: sinv, gamma: sg, y: sy },
            { relu } as unknown as tf.NamedAttrMap,
          ) as tf.Tensor[];
          (dy as tf.Tensor).dispose(); // see below
          return grads;
        },
      };
    })
    : tf.customGrad((xi, g, b, save) => {
      const mean = tf.mean(xi as tf.Tensor, axes);
      const xc = tf.sub(xi as tf.Tensor, mean);
      const variance = tf.mean(tf.square(xc), axes);
      const invstd = tf.rsqrt(tf.add(variance, BN_EPS));
      const xhat = tf.mul(xc, invstd);
      const pre = tf.add(tf.mul(xhat, g as tf.Tensor), b as tf.Tensor);
      const y = relu ? tf.relu(pre) : pre;
      // The forward runs inside a tidy: keep the moments for the running-stat update below.
      batchMean = tf.keep(mean);
      batchVar = tf.keep(variance);
      (save as tf.GradSaveFunc)([xhat, invstd, g as tf.Tensor, y]);
      return {
        value: y,
        gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
          const [sxhat, sinvstd, sg, sy] = saved;
          // Backprop runs outside any tidy: free the temporaries now, and dy too (no other
          // node reads the gradient of this output), or they all live until backprop ends.
          const grads = tf.tidy(() => {
            // ReLU'(pre) is 1 exactly where the output is positive.
            const d = relu ? tf.mul(dy as tf.Tensor, tf.step(sy)) : (dy as tf.Tensor);
            const dbeta = tf.sum(d, axes);
            const dgamma = tf.sum(tf.mul(d, sxhat), axes);
            // dx = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat))
            const centred = tf.sub(tf.sub(d, tf.div(dbeta, n)), tf.mul(sxhat, tf.div(dgamma, n)));
            const dx = tf.mul(centred, tf.mul(sg, sinvstd));
            return [dx, dgamma, dbeta];
          });
          (dy as tf.Tensor).dispose();
          return grads;
        },
      };
    });
  const y = f(x, gamma, beta) as T;
  const m = BN_MOMENTUM;
  const nbt = store.get(`${name}.num_batches_tracked`);
  tf.tidy(() => {
    rm.assign(tf.add(tf.mul(rm, 1 - m), tf.mul(batchMean!, m)));
    rv.assign(tf.add(tf.mul(rv, 1 - m), tf.mul(batchVar!, (m * n) / (n - 1))));
    nbt.assign(tf.add(nbt, tf.scalar(1, "int32")));
  });
  tf.dispose([batchMean!, batchVar!]);
  return y;
}

/**
 * conv -> BN (-> ReLU). The conv output is freed as soon as BN has consumed it: no backward
 * function reads it (conv keeps its input, BN keeps xhat), and under a gradient tape it
 * would otherwise live until the whole backward pass ends (a third of the activation memory).
 */
export function convBn(
  store: ParamStore,
  conv: string,
  bn: string,
  x: tf.Tensor4D,
  stride: number,
  pad: number,
  training: boolean,
  relu: boolean,
): tf.Tensor4D {
  const c = convolve(store, conv, x, stride, pad);
  const y = batchNorm(store, bn, c, training, { relu });
  c.dispose();
  return y;
}

/** relu(a + b) keeping only the output for backprop (the residual join of a ResNet block). */
export function addRelu(a: tf.Tensor4D, b: tf.Tensor4D): tf.Tensor4D {
  const f = tf.customGrad((p, q, save) => {
    const y = tf.relu(tf.add(p as tf.Tensor, q as tf.Tensor));
    (save as tf.GradSaveFunc)([y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], [sy]: tf.Tensor[]) => {
        const d = tf.tidy(() => tf.mul(dy as tf.Tensor, tf.step(sy)));
        (dy as tf.Tensor).dispose(); // see batchNorm
        // Two handles on one buffer: each consumer may free its own.
        return [d, tf.clone(d)];
      },
    };
  });
  return f(a, b) as tf.Tensor4D;
}

/** Declares `name.weight` (stored [in, out]) and optionally `name.bias`, PyTorch Linear init. */
export function declareLinear(
  store: ParamStore,
  rng: Rng,
  name: string,
  inDim: number,
  outDim: number,
  bias: boolean,
): void {
  store.param(`${name}.weight`, linearUniform(rng, inDim, inDim * outDim), [inDim, outDim]);
  if (bias) store.param(`${name}.bias`, linearUniform(rng, inDim, outDim), [outDim]);
}

/** x W (+ b). */
export function linear(
  store: ParamStore,
  name: string,
  x: tf.Tensor2D,
  bias: boolean,
): tf.Tensor2D {
  const w = store.get(`${name}.weight`) as unknown as tf.Tensor2D;
  if (flopCounter.enabled) flopCounter.macs += x.shape[0] * w.shape[0] * w.shape[1];
  const y = tf.matMul(x, w) as tf.Tensor2D;
  return bias ? tf.add(y, store.get(`${name}.bias`)) as tf.Tensor2D : y;
}
