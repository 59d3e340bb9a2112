/**
 * `deno task report [experiment] [--profile P] [--db FILE] [--out DIR] [--paper FILE]`:
 * renders `reports/<experiment>/` from the metrics database (the newest successful run per
 * stage kind, method and dataset). With no experiment, the one that finished last.
 */
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import { MetricsDb, metricsDbPath } from "../metrics/db.ts";
import { listExperiments } from "../metrics/queries.ts";
import { loadReportData } from "./data.ts";
import { loadPaperTable, PAPER_YAML } from "./paper.ts";
import { writeReport } from "./write.ts";

const USAGE =
  "usage: deno task report [experiment] [--profile P] [--db FILE] [--out DIR] [--paper FILE]";

/** Runs the report CLI; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        profile: { type: "string" },
        db: { type: "string" },
        out: { type: "string" },
        paper: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (parsed.values.help) {
    console.log(USAGE);
    return 0;
  }
  if (parsed.positionals.length > 1) {
    console.error(`expected at most one experiment, got ${parsed.positionals.join(" ")}\n${USAGE}`);
    return 2;
  }
  const db = MetricsDb.shared(parsed.values.db ?? metricsDbPath());
  let experiment = parsed.positionals[0];
  let profile = parsed.values.profile ?? null;
  if (experiment === undefined) {
    const known = await db.read(listExperiments);
    if (known.length === 0) {
      console.error(`no runs in ${db.path}: run \`deno task reproduce\` first`);
      return 1;
    }
    experiment = known[0].experiment;
    if (parsed.values.profile === undefined) profile = known[0].profile;
  }
  try {
    const paper = await loadPaperTable(parsed.values.paper ?? PAPER_YAML);
    const data = await loadReportData(db, { experiment, profile }, paper);
    const dir = resolve(parsed.values.out ?? join("reports", experiment));
    await writeReport(dir, data);
    console.log(`report: ${join(dir, "index.html")} (${data.runs.length} runs)`);
    return 0;
  } catch (e) {
    console.error(`report: ${(e as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
