/**
 * The experiment lock file (`configs/<name>.lock.json`, per profile
 * `<name>.<profile>.lock.json`): what last ran or was reused for each stage instance, with
 * the inputs of its cache key, so `status` can say what changed since. Written atomically.
 */
import { writeJsonAtomic } from "./atomic.ts";
import { UsageError } from "./errors.ts";
import { canonicalJson } from "./canonical.ts";
import type { OutputManifest, RuntimeInfo } from "./cache.ts";
import type { Experiment } from "./experiment.ts";
import type { KeyInputs } from "./key.ts";

/** One stage instance as last run. */
export interface LockRecord extends KeyInputs {
  stage: string;
  matrix: Record<string, unknown>;
  key: string;
  /** Content digest of the output. */
  output: string;
  /** How long the stage ran when it produced this output. */
  seconds: number;
  /** When that run started (ISO 8601). */
  startedAt: string;
  /** Deno and dependency versions of that run. */
  runtime: RuntimeInfo;
}

/** The whole lock file. */
export interface LockFile {
  format: 1;
  experiment: string;
  profile: string | null;
  updatedAt: string;
  stages: Record<string, LockRecord>;
}

/** Reads a lock file; a missing one gives null, a damaged one an error naming it. */
export async function readLockFile(path: string): Promise<LockFile | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  try {
    const data = JSON.parse(text);
    if (data?.format === 1 && typeof data.stages === "object") return data as LockFile;
  } catch { /* reported below */ }
  throw new UsageError(`${path} is not a valid lock file; delete it to start afresh`);
}

/** Builds the record of an instance from its key inputs and committed manifest. */
export function lockRecord(
  stage: string,
  matrix: Record<string, unknown>,
  inputs: KeyInputs,
  manifest: OutputManifest,
): LockRecord {
  return {
    stage,
    matrix,
    ...inputs,
    key: manifest.key,
    output: manifest.digest,
    seconds: manifest.seconds,
    startedAt: manifest.startedAt,
    runtime: manifest.runtime,
  };
}

/**
 * Writes the lock file of `exp`: `updates` replace their instances' records, other
 * instances keep their previous record, records of instances no longer in the experiment
 * are dropped. Instances are listed in dependency order.
 */
export async function updateLockFile(
  exp: Experiment,
  updates: ReadonlyMap<string, LockRecord>,
): Promise<void> {
  if (updates.size === 0) return;
  const old = await readLockFile(exp.lockFile).catch(() => null);
  const previous = old?.stages ?? {};
  const stages: Record<string, LockRecord> = {};
  for (const inst of exp.instances) {
    const rec = updates.get(inst.id) ?? previous[inst.id];
    if (rec) stages[inst.id] = rec;
  }
  // Unchanged records: leave the file alone (no churn in version control on cached runs).
  if (old && old.experiment === exp.name && canonicalJson(old.stages) === canonicalJson(stages)) {
    return;
  }
  const lock: LockFile = {
    format: 1,
    experiment: exp.name,
    profile: exp.profile,
    updatedAt: new Date().toISOString(),
    stages,
  };
  await writeJsonAtomic(exp.lockFile, lock);
}
