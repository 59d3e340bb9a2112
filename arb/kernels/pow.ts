/**
 * `Pow` for the wasm backend with a fast path for squaring: `tf.norm` (LARS's trust ratio, every
 * step, for every weight) computes sqrt(sum(pow(abs(x), 2))), and the wasm `Pow` is a generic
 * broadcasting loop calling pow() per element, about ten times slower than `Square`. A scalar
 * exponent of exactly 2 on float32 input goes to `Square` (x * x, the same value pow gives);
 * everything else to the original kernel.
 */
import { tf } from "../tf.ts";

type Info = tf.TensorInfo;
type Backend = tf.KernelBackend & {
  typedArrayFromHeap(t: Info): ArrayLike<number>;
  disposeData(id: unknown): boolean;
};

/** Wraps the original Pow kernel function (see module doc). */
export function makePow(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { a, b } = args.inputs as { a: Info; b: Info };
    const backend = args.backend as Backend;
    const scalar = b.shape.reduce((s, d) => s * d, 1) === 1;
    if (a.dtype === "float32" && scalar && backend.typedArrayFromHeap(b)[0] === 2) {
      const square = tf.getKernel("Square", "wasm")!.kernelFunc;
      const out = square({ inputs: { x: a }, backend, attrs: {} }) as Info;
      // broadcasting a scalar exponent keeps a's shape, except that a rank-0 a takes b's rank
      if (b.shape.length > a.shape.length) {
        const reshaped = tf.getKernel("Reshape", "wasm")!.kernelFunc({
          inputs: { x: out },
          backend,
          attrs: { shape: b.shape },
        }) as Info;
        backend.disposeData(out.dataId);
        return reshaped;
      }
      return out;
    }
    return original(args);
  };
}
