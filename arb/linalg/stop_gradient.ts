/**
 * tfjs has no `stopGradient`: this is one, as a custom-gradient identity whose gradient is 0.
 */
import { tf } from "../tf.ts";

const identityWithZeroGradient = tf.customGrad(
  // customGrad passes the inputs then a save function; only the single input is used
  ((x: tf.Tensor) => ({
    value: x.clone(),
    gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
  })) as unknown as Parameters<typeof tf.customGrad>[0],
);

/**
 * The same values as x, as a constant for `tf.grads` / `tf.variableGrads`: its gradient is 0.
 *
 * @example
 * tf.grad((x) => stopGradient(x).mul(x).sum())(tf.tensor1d([3])); // [3], not [6]
 */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  return identityWithZeroGradient(x) as T;
}
