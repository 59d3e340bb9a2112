/** The shapes the metrics recorder writes and the database stores. */

/** Describes one stage run; `run` is the stage instance's cache key. */
export interface RunInfo {
  run: string;
  experiment: string;
  profile: string | null;
  stageId: string;
  kind: string;
  method?: string;
  dataset?: string;
  params: Record<string, unknown>;
  backend?: string;
  device?: string;
  gitCommit?: string;
  started?: string;
  finished?: string;
  status?: "running" | "ok" | "failed";
}

/** One metric sample as stored in `metrics.jsonl`. */
export interface MetricRow {
  run: string;
  step: number | null;
  epoch: number | null;
  name: string;
  value: number;
  time: string;
}

/** File names a recorder writes inside a stage output folder. */
export const METRIC_FILES = { metrics: "metrics.jsonl", results: "results.json", run: "run.json" };
