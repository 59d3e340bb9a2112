/**
 * Parameter groups for the optimisers: each group has its own learning rate (passed per step),
 * weight decay, and whether LARS adapts its update by the trust ratio.
 */
import type { tf } from "../tf.ts";

/** A set of variables optimised with the same settings. */
export interface ParamGroup {
  /** Group name; the key of its learning rate in `step(grads, lr)`. */
  name: string;
  /** The variables (names unique across all groups). */
  variables: tf.Variable[];
  /** L2 weight decay added to the gradient (0 for none). */
  weightDecay: number;
  /** LARS only: scale the update by the layer-wise trust ratio. */
  adapt: boolean;
}

/**
 * Splits variables as the Barlow Twins / ARB code does (`param.ndim == 1` excluded): biases and
 * normalisation parameters (rank 0 or 1) go to group `biases` with no weight decay and no
 * adaptation; all others to group `weights` with `weightDecay` and adaptation.
 *
 * @example
 * const groups = splitParamGroups(model.variables, { weightDecay: 1e-4 });
 * // lr per step: { weights: base * 0.3, biases: base * 0.0048 }
 */
export function splitParamGroups(
  vars: tf.Variable[],
  { weightDecay, excludeBiasAndNorm = true }: {
    weightDecay: number;
    /** false: every variable in `weights` (decayed and adapted alike, solo-learn's Adam). */
    excludeBiasAndNorm?: boolean;
  },
): ParamGroup[] {
  if (!(weightDecay >= 0)) {
    throw new Error(`splitParamGroups: weightDecay must be >= 0, got ${weightDecay}`);
  }
  if (!excludeBiasAndNorm) return [{ name: "weights", variables: vars, weightDecay, adapt: true }];
  return [
    { name: "weights", variables: vars.filter((v) => v.rank >= 2), weightDecay, adapt: true },
    { name: "biases", variables: vars.filter((v) => v.rank < 2), weightDecay: 0, adapt: false },
  ];
}

/** Checks groups once: unique group and variable names, sane weight decay. Returns name -> group. */
export function indexGroups(groups: ParamGroup[], who: string): Map<string, ParamGroup> {
  const byVariable = new Map<string, ParamGroup>();
  const names = new Set<string>();
  for (const g of groups) {
    if (names.has(g.name)) throw new Error(`${who}: duplicate parameter group "${g.name}"`);
    names.add(g.name);
    if (!(g.weightDecay >= 0)) {
      throw new Error(`${who}: group "${g.name}" weightDecay must be >= 0, got ${g.weightDecay}`);
    }
    for (const v of g.variables) {
      if (byVariable.has(v.name)) {
        throw new Error(
          `${who}: variable "${v.name}" appears twice (variable names must be unique)`,
        );
      }
      byVariable.set(v.name, g);
    }
  }
  return byVariable;
}
