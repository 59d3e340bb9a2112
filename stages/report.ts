/**
 * The `report` stage kind: renders the experiment's report from its upstream runs.
 *
 * ```yaml
 * report:
 *   uses: report
 *   needs: [train, eval]   # gather: true on matrix upstreams; pretrain runs give the curves
 *   gather: true
 * ```
 *
 * It first ingests every upstream run folder's metric files into the metrics database
 * (idempotent, keyed by run id), so a cache hit upstream never loses numbers even with a
 * fresh database; then renders from the database exactly those runs, into its output
 * (`report/`) and into `reports/<experiment>/` for people to open.
 */
import { z } from "zod";
import type { StageContext, StageKind } from "../pipeline/types.ts";

const Params = z.object({
  /** The paper's numbers (default: configs/paper.yaml of this project). */
  paper: z.string().min(1).optional(),
  /** Where the readable copy goes: `<out>/<experiment>/` (default: this project's `reports/`). */
  out: z.string().min(1).optional(),
}).strict();

type Params = z.output<typeof Params>;

async function run(ctx: StageContext<Params>): Promise<void> {
  const { join, resolve } = await import("node:path");
  const { MetricsDb, metricsDbPath } = await import("../metrics/db.ts");
  const { hasRunFiles } = await import("../metrics/files.ts");
  const { ingestRunDirs } = await import("../metrics/rebuild.ts");
  const { loadReportData } = await import("../reports/data.ts");
  const { loadPaperTable } = await import("../reports/paper.ts");
  const { renderReport, writeReportFiles } = await import("../reports/write.ts");

  const dirs: string[] = [];
  for (const inputs of Object.values(ctx.inputs)) {
    for (const input of inputs) if (await hasRunFiles(input.dir)) dirs.push(input.dir);
  }
  if (dirs.length === 0) {
    throw new Error(
      `report ${ctx.id}: none of its upstreams (${Object.keys(ctx.inputs).join(", ") || "none"}) ` +
        "recorded metrics; list the linear_eval (and pretrain) stages under `needs`",
    );
  }
  const db = MetricsDb.shared(metricsDbPath(ctx.cacheDir));
  const records = await ingestRunDirs(db, dirs);
  ctx.log(`ingested ${records.length} upstream runs into ${db.path}`);
  const paper = await loadPaperTable(paperFile(ctx.params));
  const data = await loadReportData(db, {
    experiment: ctx.experiment,
    profile: ctx.profile,
    runIds: records.map((r) => r.info.run),
  }, paper);
  const files = await renderReport(data);
  await writeReportFiles(join(ctx.outDir, "report"), files);
  const readable = resolve(
    ctx.params.out ?? new URL("../reports/", import.meta.url).pathname,
    ctx.experiment,
  );
  await writeReportFiles(readable, files);
  ctx.log(`report: ${join(readable, "index.html")}`);
}

/** The paper's numbers file a report reads (module-relative default, no heavy import). */
function paperFile(params: Params): string {
  return params.paper ?? new URL("../configs/paper.yaml", import.meta.url).pathname;
}

/** The `report` stage kind. */
export const kind: StageKind<typeof Params> = {
  name: "report",
  version: "1",
  description:
    "renders reports/<experiment>/ (table vs the paper, curves, metadata) from upstream runs",
  schema: Params,
  // A corrected paper.yaml must re-render the report even though no upstream changed.
  fingerprint: async (params, tools) => ({ paper: await tools.hashPath(paperFile(params)) }),
  run,
};
