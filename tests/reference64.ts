/**
 * Independent float64 reference computations for the baseline losses and the Cholesky ops,
 * written with plain arrays (no tfjs), plus finite-difference and comparison helpers.
 * Matrices are `number[][]` (rows).
 */
import { Rng } from "../arb/rng.ts";

/** A rows x cols matrix of standard normal draws. */
export function randn(rng: Rng, rows: number, cols: number, scale = 1): number[][] {
  return Array.from(
    { length: rows },
    () => Array.from({ length: cols }, () => scale * rng.normal()),
  );
}

/** Matrix product. */
export function matmul(a: number[][], b: number[][]): number[][] {
  return a.map((row) => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));
}

/** Transpose. */
export function transpose(a: number[][]): number[][] {
  return a[0].map((_, j) => a.map((row) => row[j]));
}

/** Rows scaled to unit norm. */
export function normalizeRows(a: number[][]): number[][] {
  return a.map((r) => {
    const n = Math.sqrt(r.reduce((s, v) => s + v * v, 0));
    return r.map((v) => v / Math.max(n, 1e-12));
  });
}

/** Column means. */
function colMeans(a: number[][]): number[] {
  return a[0].map((_, j) => a.reduce((s, r) => s + r[j], 0) / a.length);
}

/** Rows minus column means. */
function centre(a: number[][]): number[][] {
  const m = colMeans(a);
  return a.map((r) => r.map((v, j) => v - m[j]));
}

/** Right-looking (outer product) Cholesky: a different algorithm from the one under test. */
export function cholesky64(a: number[][]): number[][] {
  const n = a.length;
  const s = a.map((r) => r.slice());
  const l = Array.from({ length: n }, () => new Array(n).fill(0));
  for (let k = 0; k < n; k++) {
    if (!(s[k][k] > 0)) throw new Error(`reference cholesky: not positive definite at ${k}`);
    const d = Math.sqrt(s[k][k]);
    for (let i = k; i < n; i++) l[i][k] = s[i][k] / d;
    for (let i = k + 1; i < n; i++) {
      for (let j = k + 1; j <= i; j++) s[i][j] -= l[i][k] * l[j][k];
    }
  }
  return l;
}

/** X with L X = B by forward substitution (L lower triangular). */
export function solveLower64(l: number[][], b: number[][]): number[][] {
  const n = l.length;
  const x: number[][] = [];
  for (let i = 0; i < n; i++) {
    x.push(b[i].map((v, c) => {
      let s = v;
      for (let k = 0; k < i; k++) s -= l[i][k] * x[k][c];
      return s / l[i][i];
    }));
  }
  return x;
}

/** Identity matrix. */
export function eye(n: number): number[][] {
  return Array.from(
    { length: n },
    (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)),
  );
}

/** NT-Xent (SimCLR paper eq. 1, mean over the 2N anchors). */
export function simclr64(z1: number[][], z2: number[][], t: number): number {
  const h = normalizeRows([...z1, ...z2]);
  const m = h.length;
  const n = z1.length;
  let total = 0;
  for (let i = 0; i < m; i++) {
    const sim = h.map((r) => r.reduce((s, v, k) => s + v * h[i][k], 0) / t);
    let denom = 0;
    for (let k = 0; k < m; k++) if (k !== i) denom += Math.exp(sim[k]);
    total += -(sim[(i + n) % m] - Math.log(denom));
  }
  return total / m;
}

/** VICReg (official main_vicreg.py; reduction "mean" halves the variance terms). */
export function vicreg64(
  z1: number[][],
  z2: number[][],
  o: { sim: number; std: number; cov: number; eps: number; reduction: "mean" | "sum" },
): number {
  const n = z1.length;
  const d = z1[0].length;
  let mse = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mse += (z1[i][j] - z2[i][j]) ** 2;
  mse /= n * d;
  const branch = (z: number[][]) => {
    const x = centre(z);
    let v = 0;
    for (let j = 0; j < d; j++) {
      const variance = x.reduce((s, r) => s + r[j] ** 2, 0) / (n - 1);
      v += Math.max(0, 1 - Math.sqrt(variance + o.eps));
    }
    const c = matmul(transpose(x), x);
    let off = 0;
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) if (i !== j) off += (c[i][j] / (n - 1)) ** 2;
    }
    return { v: v / d, c: off / d };
  };
  const a = branch(z1);
  const b = branch(z2);
  const variance = o.reduction === "mean" ? (a.v + b.v) / 2 : a.v + b.v;
  return o.sim * mse + o.std * variance + o.cov * (a.c + b.c);
}

/** Whitens one sub-batch: W (X - mean)^T rows, W = chol(shrunk cov)^-1. */
export function whiten64(v: number[][], eps: number): number[][] {
  const x = centre(v);
  const d = x[0].length;
  const cov = matmul(transpose(x), x).map((r, i) =>
    r.map((c, j) => (1 - eps) * c / (x.length - 1) + (i === j ? eps : 0))
  );
  const w = solveLower64(cholesky64(cov), eye(d));
  return matmul(x, transpose(w));
}

/** W-MSE for given sub-batch orders (one per iteration), as htdt/self-supervised. */
export function wmse64(
  z1: number[][],
  z2: number[][],
  orders: ArrayLike<number>[],
  wSize: number,
  eps: number,
): number {
  let total = 0;
  for (const order of orders) {
    let cos = 0;
    for (let g = 0; g < z1.length / wSize; g++) {
      const idx = Array.from({ length: wSize }, (_, i) => order[g * wSize + i]);
      const a = normalizeRows(whiten64(idx.map((i) => z1[i]), eps));
      const b = normalizeRows(whiten64(idx.map((i) => z2[i]), eps));
      for (let i = 0; i < wSize; i++) cos += a[i].reduce((s, v, k) => s + v * b[i][k], 0);
    }
    total += 2 - 2 * cos / z1.length;
  }
  return total / orders.length;
}

/** Sinkhorn-Knopp codes (B x K) as facebookresearch/swav distributed_sinkhorn on one device. */
export function sinkhorn64(scores: number[][], iters: number, eps: number): number[][] {
  const b = scores.length;
  const k = scores[0].length;
  let q = transpose(scores.map((r) => r.map((s) => Math.exp(s / eps)))); // K x B
  const total = q.flat().reduce((s, v) => s + v, 0);
  q = q.map((r) => r.map((v) => v / total));
  for (let it = 0; it < iters; it++) {
    q = q.map((r) => {
      const s = r.reduce((a, v) => a + v, 0);
      return r.map((v) => v / s / k);
    });
    const cols = q[0].map((_, j) => q.reduce((s, r) => s + r[j], 0));
    q = q.map((r) => r.map((v, j) => v / cols[j] / b));
  }
  return transpose(q).map((r) => r.map((v) => v * b));
}

/** SwAV loss; codes from `codes` when given (held fixed), else computed (queue rows prepended). */
export function swav64(
  z1: number[][],
  z2: number[][],
  prototypes: number[][],
  o: { t: number; eps: number; iters: number; queue?: [number[][], number[][]] },
  codes?: [number[][], number[][]],
): { loss: number; codes: [number[][], number[][]] } {
  const p1 = matmul(normalizeRows(z1), transpose(prototypes));
  const p2 = matmul(normalizeRows(z2), transpose(prototypes));
  const code = (p: number[][], v: number) => {
    if (!o.queue) return sinkhorn64(p, o.iters, o.eps);
    const queued = matmul(o.queue[v], transpose(prototypes));
    return sinkhorn64([...queued, ...p], o.iters, o.eps).slice(queued.length);
  };
  const q: [number[][], number[][]] = codes ?? [code(p1, 0), code(p2, 1)];
  const ce = (qs: number[][], p: number[][]) => {
    let s = 0;
    for (let i = 0; i < p.length; i++) {
      const logits = p[i].map((v) => v / o.t);
      const mx = Math.max(...logits);
      const lse = mx + Math.log(logits.reduce((a, v) => a + Math.exp(v - mx), 0));
      s -= qs[i].reduce((a, qv, k) => a + qv * (logits[k] - lse), 0);
    }
    return s / p.length;
  };
  return { loss: 0.5 * (ce(q[0], p2) + ce(q[1], p1)), codes: q };
}

/** Central-difference gradient of f at x (flat), step h. */
export function finiteDifference(
  f: (x: Float64Array) => number,
  x: ArrayLike<number>,
  h = 1e-6,
): Float64Array {
  const p = Float64Array.from(x);
  const g = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) {
    const v = p[i];
    p[i] = v + h;
    const up = f(p);
    p[i] = v - h;
    const down = f(p);
    p[i] = v;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

/** Reshapes a flat array into rows x cols. */
export function unflatten(
  x: ArrayLike<number>,
  rows: number,
  cols: number,
  offset = 0,
): number[][] {
  return Array.from(
    { length: rows },
    (_, i) => Array.from({ length: cols }, (_, j) => x[offset + i * cols + j]),
  );
}

/** ||a - b|| / max(||b||, tiny): relative error of a against the reference b. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}
