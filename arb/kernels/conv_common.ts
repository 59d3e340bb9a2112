/**
 * What the wasm convolution-gradient kernels share: running a registered kernel directly, the
 * forward conv's geometry, and the wasm backend's heap interface.
 */
import { tf } from "../tf.ts";

/** A tensor's data on a backend. */
export type Info = tf.TensorInfo;
/** A backend that frees data by id. */
export type Backend = tf.KernelBackend & { disposeData(dataId: unknown): boolean };
/** Explicit NHWC padding. */
export type Pads = [[number, number], [number, number], [number, number], [number, number]];

/** The wasm backend's heap: outputs allocated there, typed-array views of tensors. */
export interface HeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType, offset?: number, values?: Float32Array): Info;
  typedArrayFromHeap(t: Info): Float32Array;
}

/** Runs a kernel registered on `backendName` directly (no autodiff, no engine bookkeeping). */
export function kernel(
  backend: Backend,
  backendName: string,
  name: string,
  inputs: Record<string, Info>,
  attrs: Record<string, unknown> = {},
): Info {
  const config = tf.getKernel(name, backendName);
  if (!config) throw new Error(`kernel ${name} is not registered on backend ${backendName}`);
  return config.kernelFunc({
    inputs,
    attrs: attrs as tf.NamedAttrMap,
    backend,
  }) as Info;
}

/** Geometry of a forward conv2d, from its input shape, filter shape and attributes. */
export function convInfo(
  xShape: number[],
  filterShape: number[],
  attrs: Record<string, unknown>,
): tf.backend_util.Conv2DInfo {
  const { strides, pad, dimRoundingMode, dataFormat } = attrs as {
    strides: [number, number] | number;
    pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
    dimRoundingMode?: "floor" | "round" | "ceil";
    dataFormat?: "NHWC" | "NCHW";
  };
  if (dataFormat !== undefined && dataFormat !== "NHWC") {
    throw new Error(`conv gradients on wasm support only NHWC data, got ${dataFormat}`);
  }
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
  );
}
