/**
 * Adam (Kingma & Ba, ICLR 2015, Algorithm 1) with PyTorch semantics (torch.optim.Adam,
 * amsgrad false): weight decay is L2 added to the gradient, as solo-learn's W-MSE recipe uses it.
 *   g = grad + wd w;   t = t + 1
 *   m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g^2
 *   w = w - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 * The step count t is kept per variable (as torch does), so a variable that gets no gradient
 * for a while (SwAV's frozen prototypes) starts its bias correction when it first steps.
 */
import { tf } from "../tf.ts";
import { indexGroups, type ParamGroup } from "./param_groups.ts";
import { checkStep } from "./lars.ts";

/** Options of {@link Adam}. */
export interface AdamOptions {
  /** Decay of the first and second moment estimates (default [0.9, 0.999]). */
  betas?: [number, number];
  /** Added to the denominator (default 1e-8). */
  eps?: number;
}

/** The slots Adam keeps per variable; state keys are `<variable name>#<slot>`. */
export const ADAM_SLOTS = ["m", "v", "step"] as const;

interface Slots {
  m: tf.Variable;
  v: tf.Variable;
  /** Steps taken, as a float32 scalar on the device (no synchronous read needed). */
  step: tf.Variable;
}

/**
 * Adam with per-group learning rate and L2 weight decay; same `step` / `state` / `load` API as
 * LARS and SGD (`adapt` is ignored).
 *
 * @example
 * const opt = new Adam([{ name: "weights", variables: vars, weightDecay: 1e-6, adapt: false }]);
 * opt.step(grads, { weights: 2e-3 });
 */
export class Adam {
  /** The parameter groups, as given. */
  readonly groups: ParamGroup[];
  /** Moment decays [b1, b2]. */
  readonly betas: [number, number];
  /** Denominator guard. */
  readonly eps: number;
  #byVariable: Map<string, ParamGroup>;
  #shapes: Map<string, number[]>;
  #slots = new Map<string, Slots>();

  /** Creates the optimiser over `groups` (variable names must be unique). */
  constructor(groups: ParamGroup[], { betas = [0.9, 0.999], eps = 1e-8 }: AdamOptions = {}) {
    if (!betas.every((b) => b >= 0 && b < 1)) {
      throw new Error(`Adam: betas must lie in [0, 1), got [${betas}]`);
    }
    if (!(eps > 0)) throw new Error(`Adam: eps must be > 0, got ${eps}`);
    this.groups = groups;
    this.betas = betas;
    this.eps = eps;
    this.#byVariable = indexGroups(groups, "Adam");
    this.#shapes = new Map(groups.flatMap((g) => g.variables.map((v) => [v.name, v.shape])));
  }

  /** One update of every variable with a gradient in `grads`; `lr` per group name. */
  step(grads: Record<string, tf.Tensor>, lr: Record<string, number>): void {
    checkStep(grads, lr, this.#byVariable, this.groups, "Adam");
    const [b1, b2] = this.betas;
    tf.tidy(() => {
      for (const group of this.groups) {
        for (const variable of group.variables) {
          const grad = grads[variable.name];
          if (!grad) continue;
          const g = group.weightDecay > 0 ? grad.add(variable.mul(group.weightDecay)) : grad;
          const s = this.#slotsOf(variable);
          s.step.assign(s.step.add(1));
          s.m.assign(s.m.mul(b1).add(g.mul(1 - b1)));
          s.v.assign(s.v.mul(b2).add(g.square().mul(1 - b2)));
          const bc1 = tf.sub(1, tf.pow(b1, s.step));
          const bc2 = tf.sub(1, tf.pow(b2, s.step));
          const denom = s.v.div(bc2).sqrt().add(this.eps);
          variable.assign(variable.sub(s.m.div(bc1).div(denom).mul(lr[group.name])));
        }
      }
    });
  }

  #slotsOf(v: tf.Variable): Slots {
    let s = this.#slots.get(v.name);
    if (!s) {
      s = {
        m: tf.variable(tf.zerosLike(v), false, `Adam/m/${v.name}`),
        v: tf.variable(tf.zerosLike(v), false, `Adam/v/${v.name}`),
        step: tf.variable(tf.scalar(0), false, `Adam/step/${v.name}`),
      };
      this.#slots.set(v.name, s);
    }
    return s;
  }

  /** Moments and step counts keyed `<variable name>#m|v|step` (copies; the caller disposes). */
  state(): Record<string, tf.Tensor> {
    const out: Record<string, tf.Tensor> = {};
    for (const [name, s] of this.#slots) {
      out[`${name}#m`] = s.m.clone();
      out[`${name}#v`] = s.v.clone();
      out[`${name}#step`] = s.step.clone();
    }
    return out;
  }

  /** Replaces all slots by `state()` output (copied; the caller keeps ownership). */
  load(state: Record<string, tf.Tensor>): void {
    const byVar = new Map<string, Partial<Record<typeof ADAM_SLOTS[number], tf.Tensor>>>();
    for (const [key, t] of Object.entries(state)) {
      const at = key.lastIndexOf("#");
      const name = key.slice(0, at), slot = key.slice(at + 1) as typeof ADAM_SLOTS[number];
      const shape = this.#shapes.get(name);
      if (at < 0 || !shape || !ADAM_SLOTS.includes(slot)) {
        throw new Error(
          `Adam.load: state "${key}" is not <known variable>#${ADAM_SLOTS.join("|")}`,
        );
      }
      const want = slot === "step" ? [] : shape;
      if (want.length !== t.shape.length || want.some((d, i) => d !== t.shape[i])) {
        throw new Error(`Adam.load: "${key}" has shape [${t.shape}], expected [${want}]`);
      }
      byVar.set(name, { ...byVar.get(name), [slot]: t });
    }
    for (const [name, slots] of byVar) {
      const missing = ADAM_SLOTS.filter((s) => !slots[s]);
      if (missing.length) {
        throw new Error(`Adam.load: variable "${name}" lacks slot(s) ${missing.join(", ")}`);
      }
    }
    this.dispose();
    for (const [name, slots] of byVar) {
      const copy = (t: tf.Tensor, slot: string) =>
        tf.tidy(() => tf.variable(t.toFloat(), false, `Adam/${slot}/${name}`));
      this.#slots.set(name, {
        m: copy(slots.m!, "m"),
        v: copy(slots.v!, "v"),
        step: copy(slots.step!, "step"),
      });
    }
  }

  /** Frees every slot. */
  dispose(): void {
    for (const s of this.#slots.values()) tf.dispose([s.m, s.v, s.step]);
    this.#slots.clear();
  }
}
