/**
 * The pipeline engine's public API, for code that drives experiments without the CLI
 * (e.g. a `regress` subcommand). The CLI itself imports the modules directly to keep its
 * start-up small.
 *
 * @example
 * ```ts
 * import { Cache, loadExperiment, runExperiment } from "./pipeline/mod.ts";
 * ```
 */
export type * from "./types.ts";
export { Cache, type Lookup, type OutputManifest, type RuntimeInfo } from "./cache.ts";
export { canonicalJson, hashValue, sha256Hex } from "./canonical.ts";
export { type Problem, SpecError, StageError, UsageError } from "./errors.ts";
export { type Instance, instanceId } from "./expand.ts";
export {
  type Experiment,
  listExperiments,
  loadExperiment,
  lockFileFor,
  resolveExperimentFile,
} from "./experiment.ts";
export { hashFile, sha256File, StatCache } from "./hash.ts";
export { cacheKey, type KeyInputs } from "./key.ts";
export { type LockFile, type LockRecord, readLockFile } from "./lockfile.ts";
export { type PlanEntry, planExperiment } from "./plan.ts";
export { ConsoleUi, type RunUi } from "./progress.ts";
export { type InstanceResult, runExperiment, type Status } from "./runner.ts";
export { resolveSelection, type Selection } from "./select.ts";
export { summaryJson, summaryTable } from "./summary.ts";
export { runtimeInfo } from "./versions.ts";
