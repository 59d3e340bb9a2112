/** Timing helpers shared by the benchmarks (a sub-folder, so `bench/mod.ts` does not run it). */

/** The median of `xs` (the upper one of the two middle values for an even count). */
export const median = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Median wall-clock milliseconds of `runs` calls of `fn`, after one untimed warm-up call. */
export function medianTime(runs: number, fn: () => void): number {
  fn();
  const ts: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    fn();
    ts.push(performance.now() - t);
  }
  return median(ts);
}
