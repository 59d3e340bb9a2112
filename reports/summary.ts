/**
 * `summary.json`: every number of the reproduction table with the run it came from and the
 * protocol that produced it, for machines (CI gates, other reports) to read.
 */
import type { ReportData } from "./data.ts";

/** How each kind of number in the table was obtained. */
export const PROTOCOLS = {
  paper: "the paper's figure: best test accuracy over the linear-evaluation epochs",
  best: "ours: best test accuracy over the linear-evaluation epochs (the paper's protocol)",
  final: "ours: test accuracy after the last linear-evaluation epoch",
  knn: "ours: weighted kNN (k = 200, temperature 0.1, cosine similarity) on frozen features",
  deltaTop1: "ours best top-1 minus the paper's top-1, in percentage points",
} as const;

/** Builds the JSON document written as `summary.json`. */
export function buildSummary(data: ReportData): Record<string, unknown> {
  const withProtocol = (
    v: { top1: number | null; top5: number | null; run: string } | null,
    protocol: keyof typeof PROTOCOLS,
  ) => (v ? { top1: v.top1, top5: v.top5, run: v.run, protocol } : null);
  return {
    experiment: data.experiment,
    profile: data.profile,
    generated: data.generated,
    units: "percent",
    protocols: PROTOCOLS,
    paper: { source: data.paper.source, backbone: data.paper.backbone, extra: data.paper.extra },
    entries: data.table.entries.map((e) => ({
      method: e.method,
      dataset: e.dataset,
      paper: e.paper ? { ...e.paper, protocol: "paper" } : null,
      best: withProtocol(e.best, "best"),
      final: withProtocol(e.final, "final"),
      knn: withProtocol(e.knn, "knn"),
      deltaTop1: e.deltaTop1 === null ? null : { value: e.deltaTop1, protocol: "deltaTop1" },
    })),
    runs: data.runs.map((r) => ({
      run: r.run,
      stageId: r.stageId,
      kind: r.kind,
      method: r.method,
      dataset: r.dataset,
      backend: r.backend,
      device: r.device,
      gitCommit: r.gitCommit,
      started: r.started,
      finished: r.finished,
      seconds: r.seconds,
      status: r.status,
    })),
  };
}
