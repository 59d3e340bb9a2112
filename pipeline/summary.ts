/** The end-of-run summary: a table for people and the same facts as JSON (`--summary-json`). */
import { writeJsonAtomic } from "./atomic.ts";
import type { InstanceResult } from "./runner.ts";

/** The `--summary-json` document. */
export interface SummaryJson {
  experiment: string;
  profile: string | null;
  stages: { id: string; kind: string; status: string; seconds: number; key: string | null }[];
}

/** Builds the JSON summary of a run. */
export function summaryJson(
  experiment: string,
  profile: string | null,
  results: InstanceResult[],
): SummaryJson {
  return {
    experiment,
    profile,
    stages: results.map((r) => ({
      id: r.id,
      kind: r.kind,
      status: r.status,
      seconds: Math.round(r.seconds * 1000) / 1000,
      key: r.key,
    })),
  };
}

/** Writes the JSON summary atomically. */
export function writeSummaryJson(path: string, summary: SummaryJson): Promise<void> {
  return writeJsonAtomic(path, summary);
}

/** Renders the summary table: stage, status, seconds, short key, and why (failed/skipped). */
export function summaryTable(results: InstanceResult[]): string {
  const rows = [["stage", "status", "seconds", "key", ""]];
  for (const r of results) {
    rows.push([
      r.id,
      r.status,
      r.seconds.toFixed(2),
      r.key ? r.key.slice(0, 12) : "-",
      r.reason ?? "",
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const lines = rows.map((row) =>
    row.map((cell, c) => c === 2 ? cell.padStart(widths[c]) : cell.padEnd(widths[c])).join("  ")
      .trimEnd()
  );
  const counts = new Map<string, number>();
  for (const r of results) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
  const tally = ["ran", "cached", "failed", "skipped"].filter((s) => counts.has(s))
    .map((s) => `${counts.get(s)} ${s}`).join(", ");
  return [...lines, `${results.length} stage instance(s): ${tally || "none"}`].join("\n");
}
