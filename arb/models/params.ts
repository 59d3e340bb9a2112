/**
 * Named parameters and buffers of one model instance, as `tf.Variable`s.
 *
 * Local names follow torchvision (`conv1.weight`, `layer1.0.bn1.running_mean`); the tfjs
 * variable name is `<prefix><local name>` with a prefix unique to the instance (`encoder3/`),
 * because tfjs refuses two variables with one name and a run may hold several models.
 * Parameters are trainable; buffers (BN running statistics, `num_batches_tracked`) are not.
 */
import { tf } from "../tf.ts";
import type { Model } from "./types.ts";

/** The members of a `Model` that its `ParamStore` provides. */
export type StoreBackedModel = Pick<
  Model,
  "variables" | "state" | "load" | "localName" | "paramCount" | "dispose"
>;

let instanceCounter = 0;

/** A model's variables, keyed by torchvision-style local names. */
export class ParamStore {
  /** Prefix of every tfjs variable name of this instance. */
  readonly prefix: string;
  readonly #params = new Map<string, tf.Variable>();
  readonly #buffers = new Map<string, tf.Variable>();

  /** Creates an empty store whose variable names start with `<kind><n>/`. */
  constructor(kind: string) {
    this.prefix = `${kind}${++instanceCounter}/`;
  }

  /** Adds a trainable parameter. */
  param(name: string, values: Float32Array, shape: number[]): tf.Variable {
    return this.#add(this.#params, name, tf.tensor(values, shape, "float32"), true);
  }

  /** Adds a non-trainable buffer. */
  buffer(name: string, value: tf.Tensor): tf.Variable {
    return this.#add(this.#buffers, name, value, false);
  }

  #add(map: Map<string, tf.Variable>, name: string, value: tf.Tensor, trainable: boolean) {
    if (this.#params.has(name) || this.#buffers.has(name)) {
      throw new Error(`duplicate parameter name ${name}`);
    }
    const v = tf.variable(value, trainable, this.prefix + name);
    value.dispose();
    map.set(name, v);
    return v;
  }

  /** The variable called `name` (local name); throws when absent. */
  get(name: string): tf.Variable {
    const v = this.#params.get(name) ?? this.#buffers.get(name);
    if (!v) throw new Error(`no parameter or buffer named ${name}`);
    return v;
  }

  /** Trainable variables in creation order. */
  get params(): tf.Variable[] {
    return [...this.#params.values()];
  }

  /** Local name of a variable of this store (its tfjs name without the prefix). */
  localName(v: tf.Variable): string {
    return v.name.startsWith(this.prefix) ? v.name.slice(this.prefix.length) : v.name;
  }

  /** The `Model` members this store backs (variables, state, load, names, count, dispose). */
  modelMembers(): StoreBackedModel {
    return {
      variables: this.params,
      state: () => this.state(),
      load: (s) => this.load(s),
      localName: (v) => this.localName(v),
      paramCount: this.paramCount,
      dispose: () => this.dispose(),
    };
  }

  /** Number of trainable scalars. */
  get paramCount(): number {
    return this.params.reduce((n, v) => n + v.size, 0);
  }

  /**
   * Parameters and buffers by local name, in creation order; fresh tensors (sharing data
   * with the variables) that the caller disposes.
   */
  state(): Record<string, tf.Tensor> {
    const out: Record<string, tf.Tensor> = {};
    for (const [name, v] of [...this.#params, ...this.#buffers]) out[name] = tf.clone(v);
    return out;
  }

  /** Names of every parameter and buffer in creation order. */
  names(): string[] {
    return [...this.#params.keys(), ...this.#buffers.keys()];
  }

  /**
   * Loads values by local name. Every name must be present with the same shape; extra names
   * are an error too, so a wrong checkpoint never half-loads. The caller keeps `state`.
   */
  load(state: Record<string, tf.Tensor>): void {
    const expected = this.names();
    const missing = expected.filter((n) => !(n in state));
    const extra = Object.keys(state).filter((n) => !this.#params.has(n) && !this.#buffers.has(n));
    if (missing.length || extra.length) {
      throw new Error(
        `state does not match the model: missing [${missing.join(", ")}], unexpected [${
          extra.join(", ")
        }]`,
      );
    }
    for (const name of expected) {
      const v = this.get(name);
      const t = state[name];
      if (t.shape.join("x") !== v.shape.join("x")) {
        throw new Error(`${name}: shape ${t.shape} in state, ${v.shape} in the model`);
      }
      v.assign(t.dtype === v.dtype ? t : tf.cast(t, v.dtype));
    }
  }

  /** Disposes every variable. */
  dispose(): void {
    for (const v of [...this.#params.values(), ...this.#buffers.values()]) v.dispose();
    this.#params.clear();
    this.#buffers.clear();
  }
}
