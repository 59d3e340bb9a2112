/**
 * Rebuilding the metrics database from the cache, and ingesting single run folders. The
 * database is an index over the files recorders leave in stage outputs, so both are
 * idempotent: a run is keyed by its id (the cache key) and ingesting it replaces it.
 */
import { join } from "node:path";
import { defaultCacheDir, MetricsDb, metricsDbPath } from "./db.ts";
import { hasRunFiles, readRunFiles } from "./files.ts";
import { ingestRun, type RunRecord } from "./writes.ts";

/**
 * Finds every committed stage output under `cacheDir` that holds recorder files. With the
 * engine's layout (`objects/<key>/`) only those folders count; otherwise the tree is
 * walked (hidden folders and `*.tmp-*` work folders are skipped).
 */
export async function findRunDirs(cacheDir: string): Promise<string[]> {
  const found: string[] = [];
  const objects = join(cacheDir, "objects");
  if (await isDir(objects)) {
    for await (const e of Deno.readDir(objects)) {
      const dir = join(objects, e.name);
      if (e.isDirectory && !skipName(e.name) && await hasRunFiles(dir)) found.push(dir);
    }
    return found.sort();
  }
  const walk = async (dir: string, depth: number) => {
    if (await hasRunFiles(dir)) {
      found.push(dir);
      return;
    }
    if (depth === 0) return;
    for await (const e of Deno.readDir(dir)) {
      if (e.isDirectory && !skipName(e.name)) await walk(join(dir, e.name), depth - 1);
    }
  };
  if (await isDir(cacheDir)) await walk(cacheDir, 6);
  return found.sort();
}

/** Ingests the recorder files of each folder, replacing those runs (one transaction). */
export async function ingestRunDirs(db: MetricsDb, dirs: string[]): Promise<RunRecord[]> {
  const records: RunRecord[] = [];
  for (const dir of dirs) records.push(await readRunFiles(dir));
  await db.write(async (con) => {
    for (const r of records) await ingestRun(con, r);
  });
  return records;
}

/** What a rebuild did. */
export interface RebuildSummary {
  dbPath: string;
  runs: number;
  metrics: number;
  results: number;
}

/**
 * Replaces the database's contents with what the cache holds, in one transaction (a crash
 * midway leaves the previous contents).
 */
export async function rebuildMetricsDb(
  options: { cacheDir?: string; dbPath?: string } = {},
): Promise<RebuildSummary> {
  const dbPath = options.dbPath ?? metricsDbPath(options.cacheDir);
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const records: RunRecord[] = [];
  for (const dir of await findRunDirs(cacheDir)) records.push(await readRunFiles(dir));
  const metrics = await MetricsDb.shared(dbPath).write(async (con) => {
    for (const table of ["metrics", "results", "runs"]) await con.run(`DELETE FROM ${table}`);
    for (const r of records) await ingestRun(con, r);
    return Number((await con.runAndReadAll("SELECT count(*) FROM metrics")).getRows()[0][0]);
  });
  return {
    dbPath,
    runs: records.length,
    metrics,
    results: records.reduce((n, r) => n + Object.keys(r.results).length, 0),
  };
}

function skipName(name: string): boolean {
  return name.startsWith(".") || name.includes(".tmp-");
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}
