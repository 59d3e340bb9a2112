/**
 * The reproduction table as data: for each method x dataset we ran, our linear-probe top-1
 * and top-5 (best and final epoch), kNN accuracy, and the paper's numbers with the delta.
 * Everything the Markdown, the Vega table and `summary.json` show comes from here.
 */
import type { ResultRow, RunMeta } from "../metrics/queries.ts";
import type { PaperTable } from "./paper.ts";

/** A top-1 / top-5 pair in percent, with the run it came from. */
export interface TopK {
  top1: number | null;
  top5: number | null;
  run: string;
}

/** One method x dataset cell of the table. */
export interface TableEntry {
  method: string;
  dataset: string;
  paper: { top1: number; top5: number } | null;
  /** Best test accuracy over the linear-eval epochs (the paper's protocol). */
  best: TopK | null;
  /** Test accuracy after the last linear-eval epoch. */
  final: TopK | null;
  /** Weighted kNN (k = 200, T = 0.1) on the frozen features. */
  knn: TopK | null;
  /** Our best top-1 minus the paper's top-1, in points. */
  deltaTop1: number | null;
}

/** The whole table: column and row order plus the cells. */
export interface ReportTable {
  datasets: { key: string; label: string }[];
  methods: { key: string; label: string }[];
  entries: TableEntry[];
}

const EXTRA_LABELS: Record<string, string> = {
  random_init: "Random init",
  "fashion-mnist": "Fashion-MNIST",
};

/** Display label of a method or dataset key. */
export function labelOf(key: string, paperLabels: Record<string, string>): string {
  return paperLabels[key] ?? EXTRA_LABELS[key] ?? key;
}

/** Result names a linear-eval run must have for the table to use it. */
export const TABLE_RESULTS = [
  "linear_top1_best",
  "linear_top5_best",
  "linear_top1_final",
  "linear_top5_final",
  "knn_top1",
  "knn_top5",
] as const;

/**
 * Builds the table from runs and their results. A run counts when it has a method, a dataset
 * and at least one of `TABLE_RESULTS`; when several runs share a method and dataset, the one
 * that finished last wins. For each dataset we ran, the paper's other methods get rows with
 * the paper's numbers only. Rows follow the paper's method order, then others alphabetically.
 */
export function buildTable(runs: RunMeta[], results: ResultRow[], paper: PaperTable): ReportTable {
  const byRun = new Map<string, Map<string, number | null>>();
  for (const r of results) {
    if (!byRun.has(r.run)) byRun.set(r.run, new Map());
    byRun.get(r.run)!.set(r.name, r.value);
  }
  const chosen = new Map<string, RunMeta>();
  for (const run of runs) {
    const res = byRun.get(run.run);
    if (!run.method || !run.dataset || !res) continue;
    if (!TABLE_RESULTS.some((n) => res.has(n))) continue;
    const key = `${run.method}\u0000${run.dataset}`;
    const prev = chosen.get(key);
    if (!prev || (run.finished ?? "") > (prev.finished ?? "")) chosen.set(key, run);
  }
  const entries: TableEntry[] = [];
  for (const run of chosen.values()) {
    const res = byRun.get(run.run)!;
    const pair = (a: string, b: string): TopK | null =>
      res.has(a) || res.has(b)
        ? { top1: res.get(a) ?? null, top5: res.get(b) ?? null, run: run.run }
        : null;
    const p = paper.table[run.method!]?.[run.dataset!] ?? null;
    const best = pair("linear_top1_best", "linear_top5_best");
    entries.push({
      method: run.method!,
      dataset: run.dataset!,
      paper: p,
      best,
      final: pair("linear_top1_final", "linear_top5_final"),
      knn: pair("knn_top1", "knn_top5"),
      deltaTop1: p && best?.top1 != null ? best.top1 - p.top1 : null,
    });
  }
  // The paper's rows for the datasets we ran, so its whole column stands next to ours.
  const ran = new Set(entries.map((e) => e.dataset));
  for (const [method, row] of Object.entries(paper.table)) {
    for (const [dataset, p] of Object.entries(row)) {
      if (!ran.has(dataset) || entries.some((e) => e.method === method && e.dataset === dataset)) {
        continue;
      }
      entries.push({
        method,
        dataset,
        paper: p,
        best: null,
        final: null,
        knn: null,
        deltaTop1: null,
      });
    }
  }
  const order = (keys: string[], paperOrder: string[]) =>
    [...new Set(keys)].sort((a, b) =>
      rank(a, paperOrder) - rank(b, paperOrder) || a.localeCompare(b)
    );
  const datasets = order(entries.map((e) => e.dataset), Object.keys(paper.datasets));
  const methods = order(entries.map((e) => e.method), Object.keys(paper.methods));
  entries.sort((a, b) =>
    datasets.indexOf(a.dataset) - datasets.indexOf(b.dataset) ||
    methods.indexOf(a.method) - methods.indexOf(b.method)
  );
  return {
    datasets: datasets.map((key) => ({ key, label: labelOf(key, paper.datasets) })),
    methods: methods.map((key) => ({ key, label: labelOf(key, paper.methods) })),
    entries,
  };
}

function rank(key: string, paperOrder: string[]): number {
  const i = paperOrder.indexOf(key);
  return i < 0 ? paperOrder.length : i;
}

/** Formats an accuracy for tables: two decimals, or an em dash when missing. */
export function fmt(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? "—" : v.toFixed(2);
}

/** Formats a top-1 (top-5) pair the way the paper prints it. */
export function fmtPair(p: { top1: number | null; top5: number | null } | null): string {
  if (!p) return "—";
  return `${fmt(p.top1)} (${fmt(p.top5)})`;
}

/** Formats a delta with its sign. */
export function fmtDelta(d: number | null): string {
  if (d === null || !Number.isFinite(d)) return "—";
  return `${d >= 0 ? "+" : "−"}${Math.abs(d).toFixed(2)}`;
}
