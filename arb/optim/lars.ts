/**
 * LARS (You, Gitman & Ginsburg, "Large Batch Training of Convolutional Networks", 2017,
 * arXiv:1708.03888, Algorithm 1) in two published variants.
 *
 * `barlow_twins` (default; facebookresearch/barlowtwins main.py, class LARS, which ARB trains
 * with):
 *   dp = g + wd w                                  (if the group decays)
 *   q  = eta ||w|| / ||dp|| if ||w|| > 0 and ||dp|| > 0, else 1   (if the group adapts)
 *   mu = momentum mu + q dp;   w = w - lr mu
 *
 * `solo_learn` (vturrisi/solo-learn solo/utils/lars.py, copied from PyTorch Lightning Bolts;
 * the CIFAR recipes of SimCLR, VICReg, SwAV and Barlow Twins in configs/recipes/):
 *   if the group adapts and ||w|| > 0 and ||g|| > 0:
 *     q = eta ||w|| / (||g|| + wd ||w|| + 1e-8);   dp = q (g + wd w)
 *   else: dp = g                                   (no weight decay either)
 *   mu = momentum mu + dp;   w = w - lr mu
 *
 * `clipLr` (both variants; solo-learn's `clip_lr`, LARC's clipping): q <- min(q / lr, 1), so
 * the effective step lr q never exceeds lr. Biases and normalisation parameters are excluded
 * from decay and adaptation by putting them in a group with weightDecay 0 and adapt false
 * (`splitParamGroups`).
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
  /** Which published trust ratio (see the module doc; default `barlow_twins`). */
  variant?: LarsVariant;
  /** Clip the trust ratio to min(q / lr, 1) (default false). */
  clipLr?: boolean;
}

/** The LARS variants of the module doc. */
export const LARS_VARIANTS = ["barlow_twins", "solo_learn"] as const;
/** One of {@link LARS_VARIANTS}. */
export type LarsVariant = typeof LARS_VARIANTS[number];

/** Denominator guard of the solo-learn / Lightning Bolts trust ratio. */
const SOLO_LEARN_EPS = 1e-8;

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
  /** Trust-ratio variant. */
  readonly variant: LarsVariant;
  /** Whether the trust ratio is clipped to lr. */
  readonly clipLr: boolean;
  #byVariable: Map<string, ParamGroup>;
  #buffers: MomentumBuffers;

  /** Creates the optimiser over `groups` (variable names must be unique). */
  constructor(
    groups: ParamGroup[],
    { momentum = 0.9, eta = 0.02, variant = "barlow_twins", clipLr = false }: LarsOptions = {},
  ) {
    if (!(momentum >= 0 && momentum < 1)) {
      throw new Error(`LARS: momentum must be in [0, 1), got ${momentum}`);
    }
    if (!(eta > 0)) throw new Error(`LARS: eta must be > 0, got ${eta}`);
    if (!LARS_VARIANTS.includes(variant)) {
      throw new Error(`LARS: variant must be one of ${LARS_VARIANTS.join(", ")}, got ${variant}`);
    }
    this.groups = groups;
    this.momentum = momentum;
    this.eta = eta;
    this.variant = variant;
    this.clipLr = clipLr;
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
        const rate = lr[group.name];
        for (const v of group.variables) {
          const g = grads[v.name];
          if (!g) continue;
          const dp = this.variant === "solo_learn"
            ? this.#soloLearnUpdate(v, g, group, rate)
            : this.#barlowTwinsUpdate(v, g, group, rate);
          const mu = this.#buffers.accumulate(v.name, dp, this.momentum);
          v.assign(v.sub(mu.mul(rate)));
        }
      }
    });
  }

  /** q -> min(q / lr, 1) when clipping (q itself at lr 0, where the step is 0 anyway). */
  #clip(q: tf.Tensor, lr: number): tf.Tensor {
    return this.clipLr && lr > 0 ? tf.minimum(q.div(lr), 1) : q;
  }

  #barlowTwinsUpdate(v: tf.Variable, g: tf.Tensor, group: ParamGroup, lr: number): tf.Tensor {
    const dp = group.weightDecay > 0 ? g.add(v.mul(group.weightDecay)) : g;
    if (!group.adapt) return dp;
    const wNorm = tf.norm(v), dNorm = tf.norm(dp);
    const both = tf.logicalAnd(wNorm.greater(0), dNorm.greater(0));
    const q = this.#clip(wNorm.mul(this.eta).div(dNorm), lr);
    return dp.mul(tf.where(both, q, tf.onesLike(wNorm)));
  }

  #soloLearnUpdate(v: tf.Variable, g: tf.Tensor, group: ParamGroup, lr: number): tf.Tensor {
    if (!group.adapt) return g;
    const wNorm = tf.norm(v), gNorm = tf.norm(g);
    const both = tf.logicalAnd(wNorm.greater(0), gNorm.greater(0));
    const denom = gNorm.add(wNorm.mul(group.weightDecay)).add(SOLO_LEARN_EPS);
    const q = this.#clip(wNorm.mul(this.eta).div(denom), lr);
    // both: q (g + wd w); otherwise g (scalar selects: the norms are scalars)
    const zero = tf.zerosLike(wNorm);
    const dp = g.mul(tf.where(both, q, tf.onesLike(wNorm)));
    return group.weightDecay > 0
      ? dp.add(v.mul(tf.where(both, q, zero).mul(group.weightDecay)))
      : dp;
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
