/**
 * The projector MLP from a spec string like `2048-2048-256`. By default, for every hidden layer
 * Linear (no bias) + BatchNorm1d + ReLU, then a last Linear without bias, as in the Barlow Twins
 * reference implementation (facebookresearch/barlowtwins `main.py`, which ARB's code follows):
 * `nn.Linear(sizes[i], sizes[i + 1], bias=False)` throughout. Options give the other published
 * heads: `bias: true` (torch's `nn.Linear` default, solo-learn's projectors) and
 * `batchNorm: false` (Linear-ReLU-Linear, solo-learn's SimCLR).
 * Names: `layers.<i>.weight` / `.bias` / BN `layers.<i>.running_mean` in nn.Sequential
 * numbering (a ReLU takes an index too).
 */
import { tf } from "../tf.ts";
import type { Rng } from "../rng.ts";
import { ParamStore } from "./params.ts";
import { batchNorm, declareBatchNorm, declareLinear, linear } from "./layers.ts";
import type { Projector } from "./types.ts";

/** Parses `2048-2048-256` into [2048, 2048, 256], with a clear error for bad input. */
export function parseProjectorSpec(spec: string): number[] {
  const parts = spec.split("-").map((s) => s.trim());
  const dims = parts.map(Number);
  if (!spec.trim() || dims.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new Error(
      `projector spec "${spec}" is invalid: expected positive integers joined by "-", e.g. "2048-2048-256"`,
    );
  }
  return dims;
}

/** Layer options of {@link buildProjector}. */
export interface ProjectorOptions {
  /** BatchNorm1d between the linear layers (default true). */
  batchNorm?: boolean;
  /** Biases in the linear layers (default false). */
  bias?: boolean;
}

/** Builds the projector (see module doc) on `inDim`-dimensional features. */
export function buildProjector(
  spec: string,
  inDim: number,
  rng: Rng,
  { batchNorm: withBn = true, bias = false }: ProjectorOptions = {},
): Projector {
  const dims = [inDim, ...parseProjectorSpec(spec)];
  const store = new ParamStore("projector");
  const layers: { linear: string; bn?: string; relu: boolean }[] = [];
  let idx = 0;
  for (let i = 0; i < dims.length - 1; i++) {
    const lin = `layers.${idx++}`;
    declareLinear(store, rng, lin, dims[i], dims[i + 1], bias);
    if (i < dims.length - 2) {
      const bn = withBn ? `layers.${idx++}` : undefined;
      if (bn) declareBatchNorm(store, bn, dims[i + 1]);
      idx++; // ReLU
      layers.push({ linear: lin, bn, relu: true });
    } else layers.push({ linear: lin, relu: false });
  }
  const apply = (x: tf.Tensor2D, training: boolean): tf.Tensor2D =>
    tf.tidy(() => {
      let h = x;
      for (const l of layers) {
        h = linear(store, l.linear, h, bias);
        if (l.bn) h = batchNorm(store, l.bn, h, training, { relu: true });
        else if (l.relu) h = tf.relu(h);
      }
      return h;
    });
  return {
    spec,
    inDim,
    featureDim: dims[dims.length - 1],
    apply,
    ...store.modelMembers(),
  };
}
