/**
 * Learning-rate schedule of the Barlow Twins / ARB code (facebookresearch/barlowtwins main.py,
 * `adjust_learning_rate`): linear warm-up from 0, then a cosine from `base` down to
 * `finalFactor * base`. With `startLr`, the warm-up starts there instead, as solo-learn's
 * `warmup_cosine` (Lightning Bolts `LinearWarmupCosineAnnealingLR`, `warmup_start_lr`) does;
 * Bolts reaches `base` one step earlier (it divides by warmupSteps - 1), a difference of one
 * warm-up step we do not copy.
 */

/** Parameters of {@link warmupCosine}. */
export interface WarmupCosine {
  /** Peak learning rate, reached at the end of the warm-up. */
  base: number;
  /** Steps of linear warm-up (0 for none). */
  warmupSteps: number;
  /** Total steps; the cosine ends here. */
  totalSteps: number;
  /** Final rate as a fraction of base (default 0.001). */
  finalFactor?: number;
  /** Rate at step 0, where the warm-up starts (default 0). */
  startLr?: number;
}

/**
 * Learning rate at `step` (0-based):
 * step < warmup: start + (base - start) * step / warmup; afterwards, with t = (step - warmup) / (total - warmup)
 * clamped to [0, 1] and q = (1 + cos(pi t)) / 2: base * q + base * finalFactor * (1 - q).
 *
 * @example
 * warmupCosine(0, { base: 0.3, warmupSteps: 10, totalSteps: 100 }); // 0
 * warmupCosine(10, { base: 0.3, warmupSteps: 10, totalSteps: 100 }); // 0.3
 * warmupCosine(100, { base: 0.3, warmupSteps: 10, totalSteps: 100 }); // 0.0003
 */
export function warmupCosine(
  step: number,
  { base, warmupSteps, totalSteps, finalFactor = 0.001, startLr = 0 }: WarmupCosine,
): number {
  if (!(Number.isInteger(warmupSteps) && Number.isInteger(totalSteps) && warmupSteps >= 0)) {
    throw new Error(
      `warmupCosine: warmupSteps ${warmupSteps} and totalSteps ${totalSteps} must be integers >= 0`,
    );
  }
  if (totalSteps <= warmupSteps) {
    throw new Error(
      `warmupCosine: totalSteps (${totalSteps}) must exceed warmupSteps (${warmupSteps})`,
    );
  }
  if (
    !(step >= 0) || !Number.isFinite(base) || !(finalFactor >= 0) ||
    !(startLr >= 0 && Number.isFinite(startLr))
  ) {
    throw new Error(
      `warmupCosine: bad step ${step}, base ${base}, finalFactor ${finalFactor} or startLr ${startLr}`,
    );
  }
  if (step < warmupSteps) return startLr + (base - startLr) * step / warmupSteps;
  const t = Math.min(1, (step - warmupSteps) / (totalSteps - warmupSteps));
  const q = 0.5 * (1 + Math.cos(Math.PI * t));
  return base * q + base * finalFactor * (1 - q);
}
