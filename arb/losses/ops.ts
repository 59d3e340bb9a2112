/**
 * Small helpers the baseline losses share: row normalisation (tfjs lacks `l2_normalize`), a
 * zero-gradient step, option validation and shape checks. (`stopGradient` is in arb/linalg.)
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

/**
 * `compute(inputs)` as one opaque step for autodiff: its gradient with respect to every input
 * is zero, and the ops inside run with the tape off (tfjs records no op run inside a kernel),
 * so a backward pass does no work for them. For values that are constants by definition, such
 * as SwAV's Sinkhorn codes.
 */
export function withoutGradient<T extends tf.Tensor>(
  compute: (inputs: tf.Tensor[]) => T,
  inputs: tf.Tensor[],
): T {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xs = args.slice(0, inputs.length) as tf.Tensor[];
    return { value: compute(xs), gradFunc: () => xs.map((x) => tf.zerosLike(x)) };
  });
  return op(...inputs) as T;
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
