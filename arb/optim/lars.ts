/**
 * LARS (You, Gitman & Ginsburg, "Large Batch Training of Convolutional Networks", 2017,
 * arXiv:1708.03888, Algorithm 1) in the variant of the Barlow Twins code
 * (facebookresearch/barlowtwins, main.py, class LARS) that ARB trains with:
 *   dp = g + wd w                                  (if the group decays)
 *   q  = eta ||w|| / ||dp|| if ||w|| > 0 and ||dp|| > 0, else 1   (if the group adapts)
 *   mu = momentum mu + q dp;   w = w - lr mu
 * Biases and normalisation parameters are excluded from decay and adaptation by putting them in
 * a group with weightDecay 0 and adapt false (`splitParamGroups`).
 */
import { tf } from "../tf.ts";
import { indexGroups, type ParamGroup } from "./param_groups.ts";
import { MomentumBuffers } from "./momentum_buffers.ts";

/** Options of {@link LARS}. */
export interface LarsOptions {
  /** Momentum (default 0.9). */
  momentum?: number;
  /** Trust coefficient (default 0.02, ARB's setting; the Barlow Twins code uses 0.001). */
  eta?: number;
}

/**
 * Layer-wise adaptive rate scaling with momentum.
 *
 * @example
 * const opt = new LARS(splitParamGroups(vars, { weightDecay: 1e-4 }), { eta: 0.02 });
 * opt.step(grads, { weights: 0.3, biases: 0.0048 });
 */
export class LARS {
  /** The parameter groups, as given. */
  readonly groups: ParamGroup[];
  /** Momentum coefficient. */
  readonly momentum: number;
  /** Trust coefficient. */
  readonly eta: number;
  #byVariable: Map<string, ParamGroup>;
  #buffers: MomentumBuffers;

  /** Creates the optimiser over `groups` (variable names must be unique). */
  constructor(groups: ParamGroup[], { momentum = 0.9, eta = 0.02 }: LarsOptions = {}) {
    if (!(momentum >= 0 && momentum < 1)) {
      throw new Error(`LARS: momentum must be in [0, 1), got ${momentum}`);
    }
    if (!(eta > 0)) throw new Error(`LARS: eta must be > 0, got ${eta}`);
    this.groups = groups;
    this.momentum = momentum;
    this.eta = eta;
    this.#byVariable = indexGroups(groups, "LARS");
    this.#buffers = new MomentumBuffers(
      new Map(groups.flatMap((g) => g.variables.map((v) => [v.name, v.shape] as const))),
      "LARS",
    );
  }

  /**
   * One update of every variable that has a gradient in `grads` (keyed by variable name);
   * `lr` gives each group's learning rate. Variables without a gradient are left alone.
   */
  step(grads: Record<string, tf.Tensor>, lr: Record<string, number>): void {
    checkStep(grads, lr, this.#byVariable, this.groups, "LARS");
    tf.tidy(() => {
      for (const group of this.groups) {
        for (const v of group.variables) {
          const g = grads[v.name];
          if (!g) continue;
          let dp: tf.Tensor = group.weightDecay > 0 ? g.add(v.mul(group.weightDecay)) : g;
          if (group.adapt) {
            const wNorm = tf.norm(v), dNorm = tf.norm(dp);
            const both = tf.logicalAnd(wNorm.greater(0), dNorm.greater(0));
            dp = dp.mul(tf.where(both, wNorm.mul(this.eta).div(dNorm), tf.onesLike(wNorm)));
          }
          const mu = this.#buffers.accumulate(v.name, dp, this.momentum);
          v.assign(v.sub(mu.mul(lr[group.name])));
        }
      }
    });
  }

  /** Momentum buffers keyed by variable name (copies; the caller disposes them). */
  state(): Record<string, tf.Tensor> {
    return this.#buffers.state();
  }

  /** Restores `state()` output (copied; the caller keeps ownership of `state`). */
  load(state: Record<string, tf.Tensor>): void {
    this.#buffers.load(state);
  }

  /** Frees the momentum buffers. */
  dispose(): void {
    this.#buffers.dispose();
  }
}

/** Validates the arguments of an optimiser step (shared with SGD). */
export function checkStep(
  grads: Record<string, tf.Tensor>,
  lr: Record<string, number>,
  byVariable: Map<string, ParamGroup>,
  groups: ParamGroup[],
  who: string,
): void {
  for (const name of Object.keys(grads)) {
    if (!byVariable.has(name)) {
      throw new Error(`${who}.step: gradient for "${name}", which is in no parameter group`);
    }
  }
  for (const g of groups) {
    if (!Number.isFinite(lr[g.name])) {
      throw new Error(
        `${who}.step: no finite learning rate for group "${g.name}" (got ${lr[g.name]})`,
      );
    }
  }
}
