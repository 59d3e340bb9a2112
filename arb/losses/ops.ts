/**
 * Small tensor helpers the baseline losses share (tfjs lacks `l2_normalize` and `stop_gradient`).
 */
import { z } from "zod";
import { tf } from "../tf.ts";

/**
 * Rows of `x` scaled to unit L2 norm, as `torch.nn.functional.normalize(x, dim=1)`:
 * x / max(||x||, eps), differentiable.
 */
export function l2NormalizeRows(x: tf.Tensor2D, eps = 1e-12): tf.Tensor2D {
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.sum(tf.square(x), 1, true));
    return tf.div(x, tf.maximum(norm, eps)) as tf.Tensor2D;
  });
}

const stopGradientOp = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
  value: tf.clone(args[0] as tf.Tensor),
  gradFunc: (dy: tf.Tensor | tf.Tensor[]) => [tf.zerosLike(dy as tf.Tensor)],
}));

/** Identity whose gradient is zero (`torch.no_grad` / `tf.stop_gradient` for one value). */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  return stopGradientOp(x) as T;
}

/**
 * Validates loss options against a zod schema; errors name the loss and the option, e.g.
 * `simclr loss: option temperature: Number must be greater than 0`.
 */
export function parseLossOptions<S extends z.ZodTypeAny>(
  schema: S,
  options: Record<string, unknown> | undefined,
  label: string,
): z.infer<S> {
  const res = schema.safeParse(options ?? {});
  if (!res.success) {
    const msg = res.error.issues.map((i) =>
      i.path.length ? `option ${i.path.join(".")}: ${i.message}` : i.message
    ).join("; ");
    throw new Error(`${label}: ${msg}`);
  }
  return res.data;
}

/** Checks that z1 and z2 are N x D matrices of the same shape. */
export function checkViews(z1: tf.Tensor, z2: tf.Tensor, loss: string): [number, number] {
  if (
    z1.rank !== 2 || z2.rank !== 2 || z1.shape[0] !== z2.shape[0] || z1.shape[1] !== z2.shape[1]
  ) {
    throw new Error(
      `${loss} loss: z1 and z2 must both be N x D, got [${z1.shape}] and [${z2.shape}]`,
    );
  }
  return [z1.shape[0], z1.shape[1] as number];
}
