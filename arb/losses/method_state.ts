/**
 * The `MethodState` contract (docs/contracts.md, "Losses"): trainable or running state that a
 * method keeps besides the encoder and projector (SwAV's prototypes and queue).
 */
import type { tf } from "../tf.ts";
import type { Rng } from "../rng.ts";

/** Where the trainer is: the epoch (from 0) and the global step (from 0). */
export interface StepAt {
  epoch: number;
  step: number;
}

/** A method's extra state, driven by the trainer around each step. */
export interface MethodState {
  /** Trained together with the model (LARS "weights" group). */
  variables: tf.Variable[];
  /** Called before each step's loss; merged into the loss options. */
  lossOptions(at: StepAt): Record<string, unknown>;
  /** Called after each step with that step's projector outputs (e.g. queue update). */
  afterStep?(at: StepAt & { z1: tf.Tensor2D; z2: tf.Tensor2D }): void;
  /** True: no update of `variables` this epoch. */
  frozen?(at: { epoch: number }): boolean;
  /** Tensors to checkpoint (copies; the caller disposes them). */
  state(): Record<string, tf.Tensor>;
  /** Restores from `state()` output (copies the tensors; the caller keeps ownership). */
  load(state: Record<string, tf.Tensor>): void;
  /** Frees the variables and buffers. */
  dispose(): void;
}

/** Builds a method's state; `params` is the method's loss options record from the recipe. */
export type MethodStateFactory = (init: {
  projectorDim: number;
  rng: Rng;
  params: Record<string, unknown>;
}) => MethodState;
