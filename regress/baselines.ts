/**
 * The CI accuracy baselines (`configs/baselines.yaml`): for each method, the expected linear
 * and kNN top-1 with a tolerance derived from a measured seed-to-seed spread.
 */
import { z } from "zod";

/** One metric's expectation. */
export const Expectation = z.object({
  /** Mean over the recorded seeds, in percent. */
  expected: z.number(),
  /** Lowest acceptable value is `expected - tolerance`. */
  tolerance: z.number().nonnegative(),
  /** The values measured per seed, in the order of `seeds`. */
  per_seed: z.array(z.number()).min(1),
  /** Sample standard deviation of `per_seed`. */
  std: z.number().nonnegative(),
}).strict();
/** One metric's expectation. */
export type Expectation = z.infer<typeof Expectation>;

/** Metric names the gate checks. */
export const GATED_METRICS = ["linear_top1", "knn_top1"] as const;
/** A gated metric name. */
export type GatedMetric = typeof GATED_METRICS[number];

/** `method` must beat `over` (e.g. the random-init encoder) by `min` points of `metric`. */
export const Margin = z.object({
  method: z.string(),
  over: z.string(),
  metric: z.enum(GATED_METRICS),
  min: z.number(),
}).strict();
/** A required margin between two methods. */
export type Margin = z.infer<typeof Margin>;

/** The whole baselines file. */
export const Baselines = z.object({
  experiment: z.string(),
  profile: z.string().nullable(),
  commit: z.string(),
  updated: z.string(),
  seeds: z.array(z.number().int()).min(3, "at least 3 seeds are needed to measure a spread"),
  /** tolerance = max(floor, sigmas x std). */
  sigmas: z.number().positive(),
  floor: z.number().nonnegative(),
  methods: z.record(
    z.string(),
    z.object({ linear_top1: Expectation, knn_top1: Expectation }).strict(),
  ),
  /** Each entry: `method` must beat `over` by at least `min` points of `metric`. */
  margins: z.array(Margin).min(1),
}).strict();
/** The whole baselines file. */
export type Baselines = z.infer<typeof Baselines>;

/** Mean and sample standard deviation (n - 1) of a list of numbers. */
export function meanStd(xs: number[]): { mean: number; std: number } {
  if (xs.length === 0) throw new Error("meanStd of an empty list");
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  if (xs.length === 1) return { mean, std: 0 };
  const v = xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1);
  return { mean, std: Math.sqrt(v) };
}

/** Builds an expectation from per-seed values: tolerance = max(floor, sigmas x std). */
export function expectationFrom(perSeed: number[], sigmas: number, floor: number): Expectation {
  const { mean, std } = meanStd(perSeed);
  return {
    expected: round(mean),
    tolerance: round(Math.max(floor, sigmas * std)),
    per_seed: perSeed.map(round),
    std: round(std),
  };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
