/**
 * Weight initialisers, drawn on the host from the seeded `Rng` so that one seed gives the same
 * weights on every backend. They follow PyTorch/torchvision.
 */
import type { Rng } from "../rng.ts";

/**
 * torchvision ResNet conv init: `kaiming_normal_(mode="fan_out", nonlinearity="relu")`,
 * N(0, 2 / fan_out) with fan_out = outChannels * kh * kw. Shape [kh, kw, in, out] (tfjs HWIO).
 */
export function kaimingNormalFanOut(rng: Rng, kh: number, kw: number, cin: number, cout: number) {
  const std = Math.sqrt(2 / (cout * kh * kw));
  const a = new Float32Array(kh * kw * cin * cout);
  for (let i = 0; i < a.length; i++) a[i] = rng.normal() * std;
  return a;
}

/**
 * PyTorch `nn.Linear` default init (kaiming_uniform with a = sqrt(5)): U(-1/sqrt(in), 1/sqrt(in)).
 * Shape [in, out] (we store linear weights transposed against PyTorch).
 */
export function linearUniform(rng: Rng, fanIn: number, count: number): Float32Array {
  const bound = 1 / Math.sqrt(fanIn);
  const a = new Float32Array(count);
  for (let i = 0; i < a.length; i++) a[i] = rng.range(-bound, bound);
  return a;
}

/** A constant-filled array. */
export function filled(n: number, value: number): Float32Array {
  return new Float32Array(n).fill(value);
}
