/**
 * `deno task metrics <command>`: maintenance of the metrics database.
 *
 *   rebuild [--cache DIR] [--db FILE]   rebuild the database from every run in the cache
 *   ingest DIR... [--db FILE]           add (or replace) the runs recorded in these folders
 */
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import type { CliEnv } from "../pipeline/cli/common.ts";
import { MetricsDb, metricsDbPath } from "./db.ts";
import { ingestRunDirs, rebuildMetricsDb } from "./rebuild.ts";

const USAGE = `usage: deno task metrics rebuild [--cache DIR] [--db FILE]
       deno task metrics ingest DIR... [--db FILE]`;

/** Runs the CLI with `args`; returns the exit code. `env` is given when run through `main.ts`. */
export async function main(args: string[], env?: CliEnv): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: { cache: { type: "string" }, db: { type: "string" }, help: { type: "boolean" } },
    });
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const [command, ...rest] = parsed.positionals;
  // Under main.ts the cache is the engine's: ARB_CACHE_DIR or <repository>/.cache.
  const cacheDir = parsed.values.cache ??
    (env ? resolve(Deno.env.get("ARB_CACHE_DIR") || join(env.root, ".cache")) : undefined);
  if (parsed.values.help || command === undefined) {
    console.log(USAGE);
    return command === undefined && !parsed.values.help ? 2 : 0;
  }
  if (command === "rebuild") {
    const s = await rebuildMetricsDb({ cacheDir, dbPath: parsed.values.db });
    console.log(
      `rebuilt ${s.dbPath}: ${s.runs} runs, ${s.metrics} samples, ${s.results} results`,
    );
    return 0;
  }
  if (command === "ingest") {
    if (rest.length === 0) {
      console.error(`ingest needs at least one run folder\n${USAGE}`);
      return 2;
    }
    const db = MetricsDb.shared(parsed.values.db ?? metricsDbPath(cacheDir));
    const records = await ingestRunDirs(db, rest);
    console.log(`ingested ${records.length} runs into ${db.path}`);
    return 0;
  }
  console.error(`unknown command "${command}"\n${USAGE}`);
  return 2;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
