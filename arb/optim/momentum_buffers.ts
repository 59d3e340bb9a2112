/**
 * Per-variable momentum buffers shared by LARS and SGD, with checkpointable state.
 */
import { tf } from "../tf.ts";

/** Momentum buffers keyed by variable name, created on first use (PyTorch's lazy state). */
export class MomentumBuffers {
  #buffers = new Map<string, tf.Variable>();
  #shapes: Map<string, number[]>;
  #who: string;

  /** `shapes`: the known variables' shapes, to validate loaded state. */
  constructor(shapes: Map<string, number[]>, who: string) {
    this.#shapes = shapes;
    this.#who = who;
  }

  /**
   * mu <- momentum * mu + dp (mu = dp on the first step, as PyTorch's zero-initialised
   * buffer gives), stored, and returned (the returned tensor is owned by the buffer).
   */
  accumulate(name: string, dp: tf.Tensor, momentum: number): tf.Tensor {
    const buf = this.#buffers.get(name);
    if (!buf) {
      const created = tf.variable(dp, false, `${this.#who}/momentum/${name}`);
      this.#buffers.set(name, created);
      return created;
    }
    buf.assign(buf.mul(momentum).add(dp));
    return buf;
  }

  /** Copies of the buffers keyed by variable name; the caller owns (disposes) them. */
  state(): Record<string, tf.Tensor> {
    const out: Record<string, tf.Tensor> = {};
    for (const [name, buf] of this.#buffers) out[name] = buf.clone();
    return out;
  }

  /** Replaces all buffers by `state` (values are copied; the caller keeps ownership). */
  load(state: Record<string, tf.Tensor>): void {
    for (const [name, t] of Object.entries(state)) {
      const shape = this.#shapes.get(name);
      if (!shape) {
        throw new Error(`${this.#who}.load: state for unknown variable "${name}"`);
      }
      if (shape.length !== t.shape.length || shape.some((s, i) => s !== t.shape[i])) {
        throw new Error(
          `${this.#who}.load: "${name}" has shape [${t.shape}], the variable has [${shape}]`,
        );
      }
    }
    this.dispose();
    for (const [name, t] of Object.entries(state)) {
      // tidy frees the cast copy; variables outlive it
      const buf = tf.tidy(() => tf.variable(t.toFloat(), false, `${this.#who}/momentum/${name}`));
      this.#buffers.set(name, buf);
    }
  }

  /** Frees every buffer. */
  dispose(): void {
    for (const buf of this.#buffers.values()) buf.dispose();
    this.#buffers.clear();
  }
}
