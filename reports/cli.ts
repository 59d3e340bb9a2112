/**
 * `deno task report [experiment] [--profile P] [--db FILE] [--out DIR] [--paper FILE]`:
 * renders `reports/<experiment>/` from the metrics database.
 *
 * Which runs: when the experiment has a lock file (it was run with `deno task reproduce`),
 * exactly the stage instances it records, whose cache folders are ingested first (so a fresh
 * database loses nothing); otherwise the newest successful run per stage kind, method and
 * dataset that the database holds for that experiment name. With no experiment: the default
 * one under `main.ts`, else the experiment that finished last in the database.
 */
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import type { CliEnv } from "../pipeline/cli/common.ts";
import { lockFileFor, resolveExperimentFile } from "../pipeline/experiment.ts";
import { readLockFile } from "../pipeline/lockfile.ts";
import { MetricsDb, metricsDbPath } from "../metrics/db.ts";
import { hasRunFiles } from "../metrics/files.ts";
import { listExperiments } from "../metrics/queries.ts";
import { ingestRunDirs } from "../metrics/rebuild.ts";
import { loadReportData } from "./data.ts";
import { loadPaperTable, PAPER_YAML } from "./paper.ts";
import { writeReport } from "./write.ts";

const USAGE =
  "usage: deno task report [experiment] [--profile P] [--db FILE] [--out DIR] [--paper FILE]";

/** What to report on, once resolved. */
interface Target {
  experiment: string;
  profile: string | null;
  runIds?: string[];
}

/** Runs the report CLI; returns the exit code. `env` is given when run through `main.ts`. */
export async function main(args: string[], env?: CliEnv): Promise<number> {
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
  const cacheDir = env
    ? resolve(Deno.env.get("ARB_CACHE_DIR") || join(env.root, ".cache"))
    : undefined;
  const db = MetricsDb.shared(parsed.values.db ?? metricsDbPath(cacheDir));
  try {
    const target = await resolveTarget(
      parsed.positionals[0] ?? env?.defaultExperiment,
      parsed.values.profile ?? null,
      db,
      env,
      cacheDir,
    );
    if (!target) {
      console.error(`report: no runs in ${db.path}: run \`deno task reproduce\` first`);
      return 1;
    }
    const paper = await loadPaperTable(parsed.values.paper ?? PAPER_YAML);
    const data = await loadReportData(db, target, paper);
    const dir = resolve(
      parsed.values.out ?? join(env?.root ?? ".", "reports", target.experiment),
    );
    await writeReport(dir, data);
    console.log(`report: ${join(dir, "index.html")} (${data.runs.length} runs)`);
    return 0;
  } catch (e) {
    console.error(`report: ${(e as Error).message}`);
    return 1;
  }
}

/** Finds the runs to report: the experiment's lock file, else the database by name. */
async function resolveTarget(
  arg: string | undefined,
  profile: string | null,
  db: MetricsDb,
  env: CliEnv | undefined,
  cacheDir: string | undefined,
): Promise<Target | null> {
  if (arg === undefined) {
    const known = await db.read(listExperiments);
    return known.length ? { experiment: known[0].experiment, profile: known[0].profile } : null;
  }
  if (env && cacheDir) {
    const file = await resolveExperimentFile(arg, join(env.root, "configs")).catch(() => null);
    const lock = file ? await readLockFile(lockFileFor(file, profile)) : null;
    if (lock) {
      const keys = [...new Set(Object.values(lock.stages).map((r) => r.key))];
      const dirs = [];
      const notCached = [];
      for (const key of keys) {
        const dir = join(cacheDir, "objects", key);
        if (await hasRunFiles(dir)) dirs.push(dir);
        else notCached.push(key); // perhaps still in the database
      }
      const records = await ingestRunDirs(db, dirs);
      return {
        experiment: lock.experiment,
        profile: lock.profile,
        runIds: [...records.map((r) => r.info.run), ...notCached],
      };
    }
  }
  return { experiment: arg, profile };
}

if (import.meta.main) Deno.exit(await main(Deno.args));
