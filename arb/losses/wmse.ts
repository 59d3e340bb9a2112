/**
 * W-MSE loss (Ermolov, Siarohin, Sangineto, Sebe, "Whitening for Self-Supervised
 * Representation Learning", ICML 2021, eqs. 3-5 and Algorithm 1): each view's embeddings are
 * whitened within sub-batches, then the normalised MSE between the whitened views is minimised:
 *
 *   for each sub-batch V (w_size rows, same rows in both views) and each view:
 *     X = V - mean(V),  Sigma = X^T X / (w_size - 1),  Sigma' = (1 - w_eps) Sigma + w_eps I
 *     L = cholesky(Sigma'),  W = L^-1,  whitened rows = W x_i
 *   loss = 2 - 2 * mean_i cos(white1_i, white2_i), averaged over w_iter random sub-batch splits
 *
 * Matches the official implementation htdt/self-supervised: `methods/whitening.py`
 * (`Whitening2d` with `track_running_stats=False`: mean, covariance over `T.shape[-1] - 1`,
 * shrinkage `(1 - eps) * f_cov + eps * eye`, `torch.triangular_solve(eye, torch.cholesky(...),
 * upper=False)`, then `conv2d(xn, inv_sqrt)`, i.e. x -> W x), `methods/w_mse.py` (`WMSE.forward`:
 * `w_iter` times, `torch.randperm(bs).view(-1, w_size)` splits the batch, every sub-batch of
 * every view is whitened, `norm_mse_loss` between view pairs, divided by `w_iter * num_pairs`),
 * and `norm_mse_loss` = `2 - 2 * (normalize(x0) * normalize(x1)).sum(-1).mean()`. Gradients flow
 * through the mean, the covariance, the Cholesky factor and the triangular solve, as with
 * torch's autograd there (`arb/linalg/cholesky.ts` provides the differentiable ops).
 * Defaults: `w_iter` 1 and `w_eps` 0 (official `cfg.py`), `w_size` 128 (the README's CIFAR
 * commands, `--emb 64 --w_size 128`, and solo-learn's `whitening_size: 128`).
 *
 * Note: solo-learn's `wmse_loss_func(simplified=True)` detaches the second view; we do not
 * (the official loss does not).
 *
 * Options: `w_size` (sub-batch size; must divide N; with `w_eps` 0 it must exceed D, or the
 * covariance is singular), `w_iter`, `w_eps`, and `rng` (an `Rng`, required when N > w_size:
 * it draws the sub-batch permutation, one `rng.shuffle` of 0..N-1 per iteration, so runs are
 * reproducible). With N = w_size the batch is one sub-batch and no permutation is drawn.
 * `cholesky` picks host float64 or on-device factorisation (device on webgpu by default).
 */
import { z } from "zod";
import { tf } from "../tf.ts";
import { Rng } from "../rng.ts";
import { cholesky, solveLowerTriangular } from "../linalg/cholesky.ts";
import { choleskyOnDevice, solveLowerOnDevice } from "../linalg/cholesky_device.ts";
import { checkViews, l2NormalizeRows, parseLossOptions } from "./ops.ts";

/** W-MSE loss options. */
export const WmseOptions = z.object({
  w_size: z.number().int().min(2).default(128),
  w_iter: z.number().int().min(1).default(1),
  w_eps: z.number().min(0).max(1).default(0),
  rng: z.instanceof(Rng).optional(),
  /**
   * Where the Cholesky factor and the triangular solve run: "host" (float64, exact, needs
   * synchronous reads), "device" (tfjs ops, float32) or "auto" (device on webgpu, whose
   * synchronous reads fail under Deno; host elsewhere).
   */
  cholesky: z.enum(["auto", "host", "device"]).default("auto"),
}).strict();

/**
 * The row order that splits a batch of n rows into sub-batches: consecutive runs of w_size
 * indices of a permutation drawn with `rng.shuffle` (identity when n = w_size or no rng).
 */
export function subBatchOrder(n: number, wSize: number, rng?: Rng): Int32Array {
  const order = Int32Array.from({ length: n }, (_, i) => i);
  if (n > wSize) {
    if (!rng) {
      throw new Error(
        `wmse loss: option rng (an Rng) is required to split a batch of ${n} into sub-batches ` +
          `of w_size ${wSize}`,
      );
    }
    rng.shuffle(order);
  }
  return order;
}

/**
 * Whitens each [w, D] matrix of a [groups, w, D] batch (centre, covariance over w - 1, shrink
 * by eps, x -> L^-1 x with L the Cholesky factor). Differentiable. `on` picks the Cholesky
 * implementation (see `WmseOptions.cholesky`).
 */
export function whitenCholesky(
  x: tf.Tensor3D,
  eps: number,
  on: "host" | "device" = "host",
): tf.Tensor3D {
  return tf.tidy(() => {
    const [groups, w, d] = x.shape;
    const centred = tf.sub(x, tf.mean(x, 1, true)) as tf.Tensor3D;
    const cov = tf.div(tf.matMul(centred, centred, true, false), w - 1) as tf.Tensor3D;
    const eye = tf.eye(d, d, [groups]) as unknown as tf.Tensor3D;
    const shrunk = eps > 0 ? tf.add(tf.mul(1 - eps, cov), tf.mul(eps, eye)) as tf.Tensor3D : cov;
    const inverseFactor = on === "host" // W = L^-1
      ? solveLowerTriangular(cholesky(shrunk), eye)
      : solveLowerOnDevice(choleskyOnDevice(shrunk), eye);
    return tf.matMul(centred, inverseFactor, false, true) as tf.Tensor3D; // rows W x_i
  });
}

/**
 * W-MSE loss of two views z1, z2 (N x D each).
 *
 * @example
 * const loss = wmseLoss(z1, z2, { w_size: 128, rng }); // N = 256: two sub-batches per view
 */
export function wmseLoss(
  z1: tf.Tensor2D,
  z2: tf.Tensor2D,
  options?: Record<string, unknown>,
): tf.Scalar {
  const o = parseLossOptions(WmseOptions, options, "wmse loss");
  const [n, d] = checkViews(z1, z2, "wmse loss");
  if (n % o.w_size !== 0) {
    throw new Error(`wmse loss: w_size ${o.w_size} must divide the batch size ${n}`);
  }
  if (o.w_eps === 0 && o.w_size <= d) {
    throw new Error(
      `wmse loss: w_size ${o.w_size} must exceed the embedding size ${d} when w_eps is 0 ` +
        `(the sub-batch covariance is singular otherwise); raise w_size or set w_eps > 0`,
    );
  }
  const groups = n / o.w_size;
  const on = o.cholesky === "auto"
    ? (tf.getBackend() === "webgpu" ? "device" : "host")
    : o.cholesky;
  const orders = Array.from({ length: o.w_iter }, () => subBatchOrder(n, o.w_size, o.rng));
  return tf.tidy(() => {
    const terms = orders.map((order) => {
      // Rows reordered by a permutation matrix: its gradient is a matmul on every backend
      // (tf.gather's is UnsortedSegmentSum: missing on wasm, about 1.5 s on cpu at N = 256).
      const permutation = tf.oneHot(tf.tensor1d(order, "int32"), n).toFloat();
      const split = (v: tf.Tensor2D) =>
        tf.reshape(tf.matMul(permutation, v), [groups, o.w_size, d]);
      // Both views' sub-batches in one batched whitening: [2 * groups, w_size, D].
      const both = tf.concat([split(z1), split(z2)], 0) as tf.Tensor3D;
      const white = whitenCholesky(both, o.w_eps, on);
      const [w1, w2] = tf.split(tf.reshape(white, [2 * n, d]), 2, 0) as tf.Tensor2D[];
      const cosine = tf.sum(tf.mul(l2NormalizeRows(w1), l2NormalizeRows(w2)), 1);
      return tf.sub(2, tf.mul(2, tf.mean(cosine)));
    });
    return tf.div(tf.addN(terms), o.w_iter) as tf.Scalar;
  });
}
