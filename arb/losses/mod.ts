/**
 * Self-supervised losses keyed by method name, and the state interface of methods that carry
 * trainable or running state (docs/contracts.md "Losses"). To add a method, add its file in
 * this folder and one entry to `losses` (and to `methodStates` if it has state).
 *
 * Every loss takes (z1, z2, options) with z1, z2 the two views' projections (N x D); options
 * are validated by the loss (unknown keys are an error) and may always include `rng` (an
 * `Rng` for losses that draw randomness, e.g. ARB's swap; others ignore it).
 */
import type { tf } from "../tf.ts";
import type { Rng } from "../rng.ts";
import { arbLoss, type ArbOptions } from "./arb.ts";
import { barlowTwinsLoss, type BarlowTwinsOptions } from "./barlow_twins.ts";
import { simclrLoss } from "./simclr.ts";
import { vicregLoss } from "./vicreg.ts";
import { wmseLoss } from "./wmse.ts";
import { swavLoss } from "./swav.ts";
import { swavState } from "./swav_state.ts";

/** A self-supervised loss: two N x D views to a scalar, differentiable with tf.grads. */
export type LossFn = (
  z1: tf.Tensor2D,
  z2: tf.Tensor2D,
  options?: Record<string, unknown>,
) => tf.Scalar;

/** Trainable or running state of a method (e.g. SwAV prototypes and queue). */
export interface MethodState {
  /** Trained together with the model (LARS "weights" group). */
  variables: tf.Variable[];
  /** Merged into the loss options at each step. */
  lossOptions(at: { epoch: number; step: number }): Record<string, unknown>;
  /** Called after each optimiser step (e.g. queue update, prototype renormalisation). */
  afterStep?(at: { epoch: number; step: number; z1: tf.Tensor2D; z2: tf.Tensor2D }): void;
  /** True: no update of `variables` this epoch. */
  frozen?(at: { epoch: number }): boolean;
  /** Tensors to checkpoint. */
  state(): Record<string, tf.Tensor>;
  /** Restores `state()` output. */
  load(state: Record<string, tf.Tensor>): void;
  /** Frees the state's tensors. */
  dispose(): void;
}

/** Builds a method's state. */
export type MethodStateFactory = (init: {
  projectorDim: number;
  rng: Rng;
  params: Record<string, unknown>;
}) => MethodState;

/** Losses by method name. */
export const losses: Record<string, LossFn> = {
  arb: (z1, z2, options) => arbLoss(z1, z2, options as ArbOptions),
  barlow_twins: (z1, z2, options) => barlowTwinsLoss(z1, z2, options as BarlowTwinsOptions),
  simclr: simclrLoss,
  vicreg: vicregLoss,
  wmse: wmseLoss,
  swav: swavLoss,
};

/** State factories of the methods that have state (SwAV: prototypes and queue, see swav.ts). */
export const methodStates: Record<string, MethodStateFactory> = {
  swav: swavState,
};

export { arbLoss, type ArbOptions, standardizeRows } from "./arb.ts";
export { barlowTwinsLoss, type BarlowTwinsOptions, batchNormalize } from "./barlow_twins.ts";
export { simclrLoss, SimclrOptions } from "./simclr.ts";
export { vicregLoss, VicregOptions } from "./vicreg.ts";
export { subBatchOrder, whitenCholesky, wmseLoss, WmseOptions } from "./wmse.ts";
export { sinkhornKnopp, type SwavConfig, swavLoss, SwavOptions } from "./swav.ts";
export { SwavState, swavState } from "./swav_state.ts";
