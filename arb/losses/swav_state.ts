/**
 * SwAV's method state (`methodStates.swav`): the prototypes and the optional queue of past
 * embeddings, kept between steps as facebookresearch/swav `main_swav.py` keeps them.
 *
 * - Prototypes: a K x D `tf.Variable` ("weights" group for LARS), initialised like torch's
 *   `nn.Linear(D, K, bias=False)` (uniform in +-1/sqrt(D), drawn from the given `Rng`) and
 *   re-normalised to unit rows at the start of every step (in `lossOptions`), without gradient
 *   through the normalisation, as the official `train` loop does before its forward pass.
 * - Queue: with `queue_length` L > 0, from epoch `epoch_queue_starts` on, `afterStep` pushes
 *   both views' l2-normalised projector outputs (newest first) into a [2, L, D] buffer; the loss
 *   receives it once it holds L rows (the official code uses it once its last row is non-zero).
 *   The official code trims L to a multiple of the batch size; we shift by the batch size
 *   instead, so any L works.
 * - Frozen: `frozen({ epoch })` is true for `epoch < freeze_prototypes_epochs` (solo-learn's
 *   epoch-based form of the official `freeze_prototypes_niters`): the trainer must skip the
 *   prototype update then.
 */
import { tf } from "../tf.ts";
import type { Rng } from "../rng.ts";
import type { MethodState, MethodStateFactory } from "./mod.ts";

/** Where the trainer is: the epoch and the global step (both from 0). */
type StepAt = { epoch: number; step: number };
import { l2NormalizeRows, parseLossOptions } from "./ops.ts";
import { type SwavConfig, SwavOptions } from "./swav.ts";

/** A variable name not yet registered with tfjs (names must be unique per process). */
function freshVariableName(base: string): string {
  const taken = tf.engine().registeredVariables;
  if (!(base in taken)) return base;
  let i = 2;
  while (`${base}_${i}` in taken) i++;
  return `${base}_${i}`;
}

/** SwAV's prototypes and queue (see the file header); build it with `swavState`. */
export class SwavState implements MethodState {
  readonly prototypes: tf.Variable;
  #queue: tf.Tensor3D | null = null;
  #filled = 0;
  readonly #cfg: SwavConfig;
  readonly #dim: number;

  constructor(cfg: SwavConfig, dim: number, rng: Rng) {
    this.#cfg = cfg;
    this.#dim = dim;
    const k = cfg.num_prototypes;
    const bound = 1 / Math.sqrt(dim);
    const init = new Float32Array(k * dim);
    for (let i = 0; i < init.length; i++) init[i] = rng.range(-bound, bound);
    const unit = tf.tidy(() => l2NormalizeRows(tf.tensor2d(init, [k, dim])));
    this.prototypes = tf.variable(unit, true, freshVariableName("swav.prototypes"));
    unit.dispose();
  }

  get variables(): tf.Variable[] {
    return [this.prototypes];
  }

  lossOptions(_at: StepAt): Record<string, unknown> {
    tf.tidy(() => this.prototypes.assign(l2NormalizeRows(this.prototypes as tf.Tensor2D)));
    const full = this.#queue !== null && this.#filled >= this.#cfg.queue_length;
    return { prototypes: this.prototypes, queue: full ? this.#queue : null };
  }

  afterStep({ epoch, z1, z2 }: StepAt & { z1: tf.Tensor2D; z2: tf.Tensor2D }): void {
    const length = this.#cfg.queue_length;
    if (length === 0 || epoch < this.#cfg.epoch_queue_starts) return;
    const n = z1.shape[0];
    const next = tf.tidy(() => {
      const old = this.#queue ?? tf.zeros([2, length, this.#dim]);
      const fresh = tf.stack([l2NormalizeRows(z1), l2NormalizeRows(z2)]) as tf.Tensor3D;
      if (n >= length) return tf.slice(fresh, [0, 0, 0], [2, length, this.#dim]) as tf.Tensor3D;
      const kept = tf.slice(old, [0, 0, 0], [2, length - n, this.#dim]);
      return tf.concat([fresh, kept], 1) as tf.Tensor3D;
    });
    this.#queue?.dispose();
    this.#queue = tf.keep(next); // survives a tf.tidy the trainer may call us in
    this.#filled = Math.min(length, this.#filled + n);
  }

  frozen({ epoch }: { epoch: number }): boolean {
    return epoch < this.#cfg.freeze_prototypes_epochs;
  }

  state(): Record<string, tf.Tensor> {
    const out: Record<string, tf.Tensor> = {
      prototypes: tf.clone(this.prototypes),
      queue_filled: tf.scalar(this.#filled, "int32"),
    };
    if (this.#queue) out.queue = tf.clone(this.#queue);
    return out;
  }

  load(state: Record<string, tf.Tensor>): void {
    const { prototypes, queue, queue_filled: filled } = state;
    const k = this.#cfg.num_prototypes;
    const d = this.#dim;
    if (!prototypes || prototypes.shape.join() !== `${k},${d}`) {
      throw new Error(
        `swav state: checkpoint needs prototypes of shape [${k}, ${d}], got ` +
          (prototypes ? `[${prototypes.shape}]` : "none"),
      );
    }
    const length = this.#cfg.queue_length;
    if (queue && queue.shape.join() !== `2,${length},${d}`) {
      throw new Error(
        `swav state: checkpoint queue has shape [${queue.shape}], the recipe needs [2, ${length}, ${d}]`,
      );
    }
    this.prototypes.assign(prototypes);
    this.#queue?.dispose();
    this.#queue = queue ? tf.keep(tf.clone(queue) as tf.Tensor3D) : null;
    this.#filled = queue && filled ? filled.dataSync()[0] : 0;
  }

  dispose(): void {
    this.prototypes.dispose();
    this.#queue?.dispose();
    this.#queue = null;
  }
}

/**
 * Builds SwAV's state from the recipe's loss options (`num_prototypes`, `queue_length`,
 * `epoch_queue_starts`, `freeze_prototypes_epochs`; see `SwavOptions`).
 *
 * @example
 * const state = swavState({ projectorDim: 128, rng: new Rng(0), params: { queue_length: 3840 } });
 */
export function swavState(
  { projectorDim, rng, params }: Parameters<MethodStateFactory>[0],
): SwavState {
  if (!Number.isInteger(projectorDim) || projectorDim < 1) {
    throw new Error(`swav state: projectorDim must be a positive integer, got ${projectorDim}`);
  }
  return new SwavState(parseLossOptions(SwavOptions, params, "swav state"), projectorDim, rng);
}
