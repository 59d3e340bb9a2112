/**
 * Compares one CI run's results with the baselines: a number below its band fails, and so
 * does a method not beating another (ARB over the random-init encoder) by its stated margin.
 */
import { type Baselines, GATED_METRICS, type GatedMetric } from "./baselines.ts";

/** Results of one run: method -> metric -> value (percent). */
export type RunResults = Record<string, Partial<Record<GatedMetric, number>>>;

/** One checked line of the gate. */
export interface CheckRow {
  /** e.g. `arb linear_top1` or `arb - random_init linear_top1`. */
  name: string;
  expected: number;
  got: number | null;
  /** Lowest passing value. */
  min: number;
  tolerance: number;
  status: "pass" | "fail";
  /** Why it failed, or a note (e.g. "above band: consider --update"). */
  note: string;
}

/** Checks `results` against `baselines`; every method in the baselines must be present. */
export function compareWithBaselines(results: RunResults, baselines: Baselines): CheckRow[] {
  const rows: CheckRow[] = [];
  for (const [method, expectations] of Object.entries(baselines.methods)) {
    for (const metric of GATED_METRICS) {
      const e = expectations[metric];
      const got = results[method]?.[metric] ?? null;
      const min = e.expected - e.tolerance;
      const row: CheckRow = {
        name: `${method} ${metric}`,
        expected: e.expected,
        got,
        min,
        tolerance: e.tolerance,
        status: "pass",
        note: "",
      };
      if (got === null || !Number.isFinite(got)) {
        row.status = "fail";
        row.note = "missing from the run's results";
      } else if (got < min) {
        row.status = "fail";
        row.note = `below the band by ${(min - got).toFixed(2)}`;
      } else if (got > e.expected + e.tolerance) {
        row.note = "above the band: an improvement? record it with --update";
      }
      rows.push(row);
    }
  }
  for (const { method, over, metric, min } of baselines.margins) {
    const a = results[method]?.[metric];
    const b = results[over]?.[metric];
    const got = a !== undefined && b !== undefined ? a - b : null;
    rows.push({
      name: `${method} - ${over} ${metric}`,
      expected: min,
      got,
      min,
      tolerance: 0,
      status: got !== null && got >= min ? "pass" : "fail",
      note: got === null
        ? `needs both ${method} and ${over} results`
        : got >= min
        ? ""
        : `${method} beats ${over} by ${got.toFixed(2)} points, less than the required ${min}`,
    });
  }
  return rows;
}
