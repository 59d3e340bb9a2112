/** What the CLI subcommands share: their environment and how they open an experiment. */
import { resolve } from "node:path";
import { Cache } from "../cache.ts";
import { UsageError } from "../errors.ts";
import { displayPath, type Experiment, loadExperiment, lockFileFor } from "../experiment.ts";
import { readLockFile } from "../lockfile.ts";
import { StatCache } from "../hash.ts";
import type { StageRegistry } from "../types.ts";

/** Given to every subcommand by `main.ts`. */
export interface CliEnv {
  /** Repository root (where `deno.json`, `configs/` and the default `.cache/` live). */
  root: string;
  registry: StageRegistry;
  /** Experiment run when none is named. */
  defaultExperiment: string;
}

/** A subcommand entry point: returns the process exit code. */
export type Subcommand = (args: string[], env: CliEnv) => Promise<number>;

/** The cache folder: `ARB_CACHE_DIR` (relative to the working folder) or `<root>/.cache`. */
export function cacheRoot(env: CliEnv): string {
  return resolve(Deno.env.get("ARB_CACHE_DIR") || `${env.root}/.cache`);
}

/** Loads the experiment `arg` (or the default) with `profile`. */
export function openExperiment(
  arg: string | undefined,
  profile: string | undefined,
  env: CliEnv,
): Promise<Experiment> {
  return loadExperiment(arg ?? env.defaultExperiment, {
    configsDir: `${env.root}/configs`,
    registry: env.registry,
    profile: profile ?? null,
  });
}

/** Opens the cache and its stat cache. */
export async function openCache(env: CliEnv): Promise<{ cache: Cache; statCache: StatCache }> {
  const cache = new Cache(cacheRoot(env));
  return { cache, statCache: await StatCache.load(cache.statCacheFile) };
}

/** At most one positional argument: the experiment. */
export function experimentArg(positionals: string[]): string | undefined {
  if (positionals.length > 1) {
    throw new UsageError(`expected one experiment, got: ${positionals.join(" ")}`);
  }
  return positionals[0];
}

/** One line describing what is being looked at. */
export function header(exp: Experiment, cacheDir: string): string {
  const profile = exp.profile ? `, profile ${exp.profile}` : "";
  return `experiment ${exp.name} (${exp.displayFile}${profile}), cache ${displayPath(cacheDir)}`;
}

/** The lock files a plan compares with: the experiment's own and, with a profile, the base one. */
export async function planLocks(exp: Experiment) {
  const base = lockFileFor(exp.file, null);
  return {
    lock: await readLockFile(exp.lockFile),
    lockDisplay: displayPath(exp.lockFile),
    fallback: exp.profile
      ? { lock: await readLockFile(base), display: displayPath(base) }
      : undefined,
  };
}
