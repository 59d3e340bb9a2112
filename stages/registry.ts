/**
 * Stage kinds by the name used in `uses:`. Each entry imports its module only when an
 * experiment uses it, so a run that trains nothing never loads tfjs, DuckDB or vega.
 * Add a kind with one line: `name: () => import("./name.ts").then((m) => m.kind),`.
 */
import type { StageRegistry } from "../pipeline/types.ts";

/** The registry the CLI runs experiments with. */
export const registry: StageRegistry = {
  command: () => import("./command.ts").then((m) => m.kind),
  fetch_dataset: () => import("./fetch_dataset.ts").then((m) => m.fetchDatasetKind),
  pretrain: () => import("./pretrain.ts").then((m) => m.kind),
  linear_eval: () => import("./linear_eval.ts").then((m) => m.kind),
  report: () => import("./report.ts").then((m) => m.kind),
};
