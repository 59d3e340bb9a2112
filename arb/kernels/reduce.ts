/**
 * Faster `Sum` and `Mean` over leading axes for the wasm backend.
 *
 * Batch norm reduces NHWC activations over N, H and W, and broadcasting gradients reduce over
 * leading axes too. tfjs-backend-wasm first transposes the reduced axes innermost (a full,
 * slow copy) and then sums. Viewing x as [P, C], a reduction over the leading axes is one
 * sequential pass over the wasm heap, accumulating each channel in float64 (so it is also
 * more accurate than the float32 original). Other reductions go to the original kernels.
 */
import { tf } from "../tf.ts";

type Info = tf.TensorInfo;
type Backend = tf.KernelBackend & {
  makeOutput(shape: number[], dtype: tf.DataType): Info;
  typedArrayFromHeap(t: Info): Float32Array;
};

/** Wraps the original Sum or Mean kernel function (see module doc). */
export function makeLeadingReduce(mean: boolean, original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, attrs } = args;
    const b = args.backend as Backend;
    const x = (inputs as { x: Info }).x;
    const { axis, keepDims } = attrs as { axis: number | number[]; keepDims: boolean };
    const rank = x.shape.length;
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
    const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
    if (!leading || x.dtype !== "float32") return original(args);
    const p = x.shape.slice(0, axes.length).reduce((s, d) => s * d, 1);
    const rest = x.shape.slice(axes.length);
    const c = rest.reduce((s, d) => s * d, 1);
    if (p === 0 || c === 0) return original(args);
    const out = b.makeOutput(keepDims ? [...axes.map(() => 1), ...rest] : rest, "float32");
    const src = b.typedArrayFromHeap(x); // after makeOutput: the heap may have grown
    const acc = new Float64Array(c);
    for (let i = 0, o = 0; i < p; i++) {
      for (let j = 0; j < c; j++, o++) acc[j] += src[o];
    }
    const dst = b.typedArrayFromHeap(out);
    const scale = mean ? 1 / p : 1;
    for (let j = 0; j < c; j++) dst[j] = acc[j] * scale;
    return out;
  };
}
