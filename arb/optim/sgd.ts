/**
 * SGD with momentum and L2 weight decay, PyTorch semantics (torch.optim.SGD, dampening 0,
 * nesterov false): dp = g + wd w; mu = momentum mu + dp (mu = dp at first); w = w - lr mu.
 * Used for the linear evaluation.
 */
import { tf } from "../tf.ts";
import { indexGroups, type ParamGroup } from "./param_groups.ts";
import { MomentumBuffers } from "./momentum_buffers.ts";
import { checkStep } from "./lars.ts";

/**
 * Stochastic gradient descent with momentum; same `step` signature as LARS (`adapt` is ignored).
 *
 * @example
 * const opt = new SGD([{ name: "linear", variables: [w, b], weightDecay: 1e-4, adapt: false }]);
 * opt.step(grads, { linear: 0.1 });
 */
export class SGD {
  /** The parameter groups, as given. */
  readonly groups: ParamGroup[];
  /** Momentum coefficient (0 for plain SGD). */
  readonly momentum: number;
  #byVariable: Map<string, ParamGroup>;
  #buffers: MomentumBuffers;

  /** Creates the optimiser over `groups` (variable names must be unique). */
  constructor(groups: ParamGroup[], { momentum = 0.9 }: { momentum?: number } = {}) {
    if (!(momentum >= 0 && momentum < 1)) {
      throw new Error(`SGD: momentum must be in [0, 1), got ${momentum}`);
    }
    this.groups = groups;
    this.momentum = momentum;
    this.#byVariable = indexGroups(groups, "SGD");
    this.#buffers = new MomentumBuffers(
      new Map(groups.flatMap((g) => g.variables.map((v) => [v.name, v.shape] as const))),
      "SGD",
    );
  }

  /** One update of every variable with a gradient in `grads`; `lr` per group name. */
  step(grads: Record<string, tf.Tensor>, lr: Record<string, number>): void {
    checkStep(grads, lr, this.#byVariable, this.groups, "SGD");
    tf.tidy(() => {
      for (const group of this.groups) {
        for (const v of group.variables) {
          const g = grads[v.name];
          if (!g) continue;
          const dp = group.weightDecay > 0 ? g.add(v.mul(group.weightDecay)) : g;
          const update = this.momentum > 0
            ? this.#buffers.accumulate(v.name, dp, this.momentum)
            : dp;
          v.assign(v.sub(update.mul(lr[group.name])));
        }
      }
    });
  }

  /** Momentum buffers keyed by variable name (copies; the caller disposes them). */
  state(): Record<string, tf.Tensor> {
    return this.#buffers.state();
  }

  /** Restores `state()` output (copied). */
  load(state: Record<string, tf.Tensor>): void {
    this.#buffers.load(state);
  }

  /** Frees the momentum buffers. */
  dispose(): void {
    this.#buffers.dispose();
  }
}
