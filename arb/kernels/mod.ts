/**
 * Kernels we register on the wasm backend so that it can train convnets fast: a
 * `Conv2DBackpropFilter` and `UnsortedSegmentSum` (missing upstream), a `Conv2DBackpropInput`,
 * a `BatchMatMul` and leading-axis `Sum`/`Mean` that avoid its slow paths, a copy-free
 * `Identity`, a `Pow` that squares fast, and fused training-mode batch norm kernels (see
 * `conv_filter_grad.ts`, `conv_input_grad.ts`, `matmul.ts`, `reduce.ts`, `pow.ts`,
 * `batch_norm.ts`; the loops in WebAssembly SIMD: `simd.ts`, `simd.wat`).
 *
 * `registerTrainingKernels()` runs once from `arb/tf.ts`, before the backend initialises, so
 * that the original kernels' setup functions (which bind the wasm exports) still run.
 */
import { tf } from "../tf.ts";
import { makeConv2DBackpropFilter } from "./conv_filter_grad.ts";
import { makeConv2DBackpropInput } from "./conv_input_grad.ts";
import { makeBatchMatMul } from "./matmul.ts";
import { makeLeadingReduce } from "./reduce.ts";
import { unsortedSegmentSum } from "./segment.ts";
import { makePow } from "./pow.ts";
import {
  BATCH_NORM_TRAIN,
  BATCH_NORM_TRAIN_GRAD,
  batchNormTrain,
  batchNormTrainGrad,
  makeSharedIdentity,
} from "./batch_norm.ts";

export { BATCH_NORM_TRAIN, BATCH_NORM_TRAIN_GRAD } from "./batch_norm.ts";

let registered = false;

/** Registers (or replaces) the wasm training kernels; idempotent. */
export function registerTrainingKernels(): void {
  if (registered) return;
  registered = true;
  const wasm = "wasm";
  replace(wasm, "Conv2DBackpropInput", () => makeConv2DBackpropInput(wasm));
  replace(wasm, "Conv2DBackpropFilter", () => makeConv2DBackpropFilter(wasm));
  replace(wasm, "BatchMatMul", (orig) => makeBatchMatMul(wasm, orig!.kernelFunc));
  replace(wasm, "Sum", (orig) => makeLeadingReduce(false, orig!.kernelFunc));
  replace(wasm, "Mean", (orig) => makeLeadingReduce(true, orig!.kernelFunc));
  replace(wasm, "UnsortedSegmentSum", () => unsortedSegmentSum);
  replace(wasm, "Identity", (orig) => makeSharedIdentity(orig!.kernelFunc));
  replace(wasm, "Pow", (orig) => makePow(orig!.kernelFunc));
  replace(wasm, BATCH_NORM_TRAIN, () => batchNormTrain);
  replace(wasm, BATCH_NORM_TRAIN_GRAD, () => batchNormTrainGrad);
}

function replace(
  backendName: string,
  kernelName: string,
  make: (original: tf.KernelConfig | undefined) => tf.KernelFunc,
): void {
  const original = tf.getKernel(kernelName, backendName);
  if (original) tf.unregisterKernel(kernelName, backendName);
  tf.registerKernel({
    kernelName,
    backendName,
    setupFunc: original?.setupFunc,
    disposeFunc: original?.disposeFunc,
    kernelFunc: make(original),
  });
}
