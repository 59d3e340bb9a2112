/**
 * Everything a report shows, read from the metrics database in one go: the runs, their
 * results, the reproduction table and the per-epoch curves.
 */
import type { MetricsDb } from "../metrics/db.ts";
import {
  epochMeans,
  latestRunIds,
  type ResultRow,
  resultsFor,
  type RunMeta,
  runsByIds,
} from "../metrics/queries.ts";
import type { PaperTable } from "./paper.ts";
import type { CurvePoint } from "./specs.ts";
import { buildTable, labelOf, type ReportTable } from "./table.ts";

/** The inputs of every report file. */
export interface ReportData {
  experiment: string;
  profile: string | null;
  generated: string;
  dbPath: string;
  paper: PaperTable;
  runs: RunMeta[];
  results: ResultRow[];
  table: ReportTable;
  /** Pretraining loss and learning rate per epoch. */
  training: CurvePoint[];
  /** Linear-probe train loss and test accuracy per epoch. */
  linear: CurvePoint[];
}

/** Panels of the curves figures: (run kind, metric name) -> panel title, in display order. */
export const TRAINING_PANELS: [string, string, string][] = [
  ["pretrain", "loss", "pretrain loss"],
  ["pretrain", "lr", "pretrain learning rate"],
];
/** Linear-eval panels, same layout as `TRAINING_PANELS`. */
export const LINEAR_PANELS: [string, string, string][] = [
  ["linear_eval", "linear_top1", "linear probe: test top-1 (%)"],
  ["linear_eval", "linear_top5", "linear probe: test top-5 (%)"],
  ["linear_eval", "train_loss", "linear probe: train loss"],
];

/** Which runs a report covers. */
export interface ReportSelection {
  experiment: string;
  profile?: string | null;
  /** Exactly these runs (the report stage's upstreams); default: the newest run per kind/method/dataset. */
  runIds?: string[];
}

/** Reads the report's data from `db` for the selected runs. */
export async function loadReportData(
  db: MetricsDb,
  selection: ReportSelection,
  paper: PaperTable,
): Promise<ReportData> {
  const profile = selection.profile ?? null;
  return await db.read(async (con) => {
    const ids = selection.runIds ?? await latestRunIds(con, selection.experiment, profile);
    const runs = await runsByIds(con, ids);
    if (runs.length === 0) {
      throw new Error(
        `no runs of experiment "${selection.experiment}"${
          profile ? ` (profile ${profile})` : ""
        } in ${db.path}: run \`deno task reproduce ${selection.experiment}\` first, or ` +
          "`deno task metrics rebuild` if the cache has them",
      );
    }
    const results = await resultsFor(con, ids);
    const series = seriesNamer(runs, paper);
    const curves = async (panels: [string, string, string][]) => {
      const wanted = runs.filter((r) => panels.some(([kind]) => kind === r.kind));
      const names = [...new Set(panels.map(([, name]) => name))];
      const points = await epochMeans(con, wanted.map((r) => r.run), names);
      const byId = new Map(wanted.map((r) => [r.run, r]));
      return points.flatMap((p): CurvePoint[] => {
        const run = byId.get(p.run)!;
        const panel = panels.find(([kind, name]) => kind === run.kind && name === p.name);
        return panel
          ? [{ panel: panel[2], method: series(run), epoch: p.epoch, value: p.value }]
          : [];
      });
    };
    return {
      experiment: selection.experiment,
      profile,
      generated: new Date().toISOString(),
      dbPath: db.path,
      paper,
      runs,
      results,
      table: buildTable(runs, results, paper),
      training: await curves(TRAINING_PANELS),
      linear: await curves(LINEAR_PANELS),
    };
  });
}

/** Names a run's curve: its method label, plus the dataset when the report spans several. */
function seriesNamer(runs: RunMeta[], paper: PaperTable): (run: RunMeta) => string {
  const datasets = new Set(runs.map((r) => r.dataset).filter((d) => d));
  return (run) => {
    const method = labelOf(run.method ?? run.stageId, paper.methods);
    return datasets.size > 1 && run.dataset
      ? `${method} · ${labelOf(run.dataset, paper.datasets)}`
      : method;
  };
}
