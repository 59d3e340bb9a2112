/**
 * The projector MLP from a spec string like `2048-2048-256`: for every hidden layer
 * Linear (no bias) + BatchNorm1d + ReLU, then a last Linear without bias, as in the
 * Barlow Twins reference implementation (facebookresearch/barlowtwins `main.py`, which ARB's
 * code follows): `nn.Linear(sizes[i], sizes[i + 1], bias=False)` throughout.
 * Names: `layers.<i>.weight` / BN `layers.<i>.running_mean` in nn.Sequential numbering.
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

/** Builds the projector (see module doc) on `inDim`-dimensional features. */
export function buildProjector(spec: string, inDim: number, rng: Rng): Projector {
  const dims = [inDim, ...parseProjectorSpec(spec)];
  const store = new ParamStore("projector");
  const layers: { linear: string; bn?: string }[] = [];
  let idx = 0;
  for (let i = 0; i < dims.length - 1; i++) {
    const lin = `layers.${idx++}`;
    declareLinear(store, rng, lin, dims[i], dims[i + 1], false);
    if (i < dims.length - 2) {
      const bn = `layers.${idx++}`;
      declareBatchNorm(store, bn, dims[i + 1]);
      idx++; // ReLU
      layers.push({ linear: lin, bn });
    } else layers.push({ linear: lin });
  }
  const apply = (x: tf.Tensor2D, training: boolean): tf.Tensor2D =>
    tf.tidy(() => {
      let h = x;
      for (const l of layers) {
        h = linear(store, l.linear, h, false);
        if (l.bn) h = batchNorm(store, l.bn, h, training, { relu: true });
      }
      return h;
    });
  return {
    spec,
    inDim,
    featureDim: dims[dims.length - 1],
    variables: store.params,
    apply,
    state: () => store.state(),
    load: (s) => store.load(s),
    localName: (v) => store.localName(v),
    paramCount: store.paramCount,
    dispose: () => store.dispose(),
  };
}
