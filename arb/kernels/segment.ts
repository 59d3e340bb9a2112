/**
 * `UnsortedSegmentSum` for the wasm backend, which lacks it: it is the gradient of `gather`
 * (used e.g. by ARB's feature permutation). One pass over the heap: rows of x (after the
 * segment-id dimensions) are added into output row `segmentIds[i]`; ids outside
 * [0, numSegments) are dropped, as in TensorFlow.
 */
import type { tf } from "../tf.ts";

type Info = tf.TensorInfo;
type Backend = tf.KernelBackend & {
  makeOutput(shape: number[], dtype: tf.DataType): Info;
  typedArrayFromHeap(t: Info): Float32Array | Int32Array;
};

/** Kernel function for `UnsortedSegmentSum` (see module doc). */
export const unsortedSegmentSum: tf.KernelFunc = ({ inputs, attrs, backend }) => {
  const b = backend as Backend;
  const { x, segmentIds } = inputs as { x: Info; segmentIds: Info };
  const { numSegments } = attrs as { numSegments: number };
  const m = segmentIds.shape.reduce((p, q) => p * q, 1);
  const rest = x.shape.slice(segmentIds.shape.length);
  const inner = rest.reduce((p, q) => p * q, 1);
  const out = b.makeOutput([numSegments, ...rest], x.dtype);
  const dst = b.typedArrayFromHeap(out);
  const src = b.typedArrayFromHeap(x);
  const ids = b.typedArrayFromHeap(segmentIds);
  dst.fill(0);
  for (let i = 0; i < m; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue;
    const o = s * inner, k = i * inner;
    for (let j = 0; j < inner; j++) dst[o + j] += src[k + j];
  }
  return out;
};
