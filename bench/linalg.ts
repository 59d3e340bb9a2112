/**
 * Whitening benchmark (`deno task bench linalg`): host float64 eigensolvers (Householder-QL,
 * cyclic Jacobi) on d x d covariances, and the grouped ZCA base of ARB (host "eigh" and device
 * "newton_schulz" on wasm) for D x N rows. Median wall-clock; on a shared machine, rough.
 */
import { tf } from "../arb/tf.ts";
import { Rng } from "../arb/rng.ts";
import { householderQlEigen, jacobiEigen, zcaBase } from "../arb/linalg/mod.ts";
import { medianTime as time } from "./lib/timing.ts";

/** Runs the linear-algebra benchmark and prints one line per figure (ms). */
export async function benchLinalg(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const rng = new Rng(0);
  for (const d of [64, 128, 256]) {
    const n = 256;
    const x = Float64Array.from({ length: d * n }, () => rng.normal());
    const c = new Float64Array(d * d);
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += x[i * n + k] * x[j * n + k];
        c[i * d + j] = (1 - 1e-4) * s / (n - 1) + (i === j ? 1e-4 : 0);
      }
    }
    out[`ql.${d}`] = time(5, () => householderQlEigen(c, d));
    out[`jacobi.${d}`] = time(d > 128 ? 2 : 5, () => jacobiEigen(c, d));
    console.log(
      `eigen ${d}x${d} (covariance of ${n} samples): QL ${out[`ql.${d}`].toFixed(1)} ms, ` +
        `Jacobi ${out[`jacobi.${d}`].toFixed(1)} ms`,
    );
  }
  await tf.setBackend("wasm");
  for (const [d, n, groups] of [[256, 256, 1], [256, 256, 4], [128, 256, 1], [256, 512, 1]]) {
    const x = tf.randomNormal([d, n], 0, 1, "float32", 1) as tf.Tensor2D;
    for (const method of ["eigh", "newton_schulz"] as const) {
      const ms = time(3, () => zcaBase(x, { groups, method }).dispose());
      out[`zca.${method}.${d}x${n}.g${groups}`] = ms;
      console.log(
        `zcaBase ${method.padEnd(13)} D=${d} N=${n} groups=${groups} (wasm): ${ms.toFixed(1)} ms`,
      );
    }
    x.dispose();
  }
  return out;
}

if (import.meta.main) await benchLinalg();
