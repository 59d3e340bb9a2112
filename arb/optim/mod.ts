/**
 * Optimisers (LARS and Adam for pretraining, SGD for pretraining or linear evaluation),
 * parameter groups, the learning-rate schedule, and `createOptimizer` to pick one by name.
 */
import type { tf } from "../tf.ts";
import { Adam } from "./adam.ts";
import { LARS, type LarsVariant } from "./lars.ts";
import type { ParamGroup } from "./param_groups.ts";
import { SGD } from "./sgd.ts";

export { checkStep, LARS, LARS_VARIANTS, type LarsOptions, type LarsVariant } from "./lars.ts";
export { Adam, ADAM_SLOTS, type AdamOptions } from "./adam.ts";
export { SGD } from "./sgd.ts";
export { type ParamGroup, splitParamGroups } from "./param_groups.ts";
export { type WarmupCosine, warmupCosine } from "./schedule.ts";

/**
 * What every optimiser offers. State keys are variable names (LARS, SGD: momentum buffers), or
 * `<variable name>#<slot>` when a variable has several (Adam: `#m`, `#v`, `#step`).
 */
export interface Optimizer {
  readonly groups: ParamGroup[];
  step(grads: Record<string, tf.Tensor>, lr: Record<string, number>): void;
  state(): Record<string, tf.Tensor>;
  load(state: Record<string, tf.Tensor>): void;
  dispose(): void;
}

/** Optimiser names {@link createOptimizer} knows. */
export const OPTIMIZER_NAMES = ["lars", "sgd", "adam"] as const;

/** Which optimiser and its settings (the fields a name does not use are ignored). */
export interface OptimizerSpec {
  name: typeof OPTIMIZER_NAMES[number];
  /** LARS and SGD (default 0.9). */
  momentum?: number;
  /** LARS trust coefficient (default 0.02). */
  eta?: number;
  /** LARS variant (default `barlow_twins`). */
  larsVariant?: LarsVariant;
  /** LARS: clip the trust ratio to lr (default false). */
  clipLr?: boolean;
  /** Adam moment decays (default [0.9, 0.999]). */
  betas?: [number, number];
  /** Adam denominator guard (default 1e-8). */
  eps?: number;
}

/**
 * Builds the optimiser `spec` names over `groups`.
 *
 * @example
 * const opt = createOptimizer({ name: "adam" }, splitParamGroups(vars, { weightDecay: 1e-6 }));
 */
export function createOptimizer(spec: OptimizerSpec, groups: ParamGroup[]): Optimizer {
  switch (spec.name) {
    case "lars":
      return new LARS(groups, {
        momentum: spec.momentum,
        eta: spec.eta,
        variant: spec.larsVariant,
        clipLr: spec.clipLr,
      });
    case "sgd":
      return new SGD(groups, { momentum: spec.momentum });
    case "adam":
      return new Adam(groups, { betas: spec.betas, eps: spec.eps });
    default:
      throw new Error(
        `unknown optimizer "${(spec as { name: string }).name}": choose one of ${
          OPTIMIZER_NAMES.join(", ")
        }`,
      );
  }
}

/** Splits an optimiser state key into its variable name and slot suffix (`""` or `#m`...). */
export function splitStateKey(key: string): { variable: string; slot: string } {
  const at = key.lastIndexOf("#");
  return at < 0 ? { variable: key, slot: "" } : { variable: key.slice(0, at), slot: key.slice(at) };
}
