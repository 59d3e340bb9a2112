/**
 * The contract between the generic pipeline engine and the stage kinds that plug into it.
 * The engine knows nothing of ARB: it validates `with` parameters against a kind's zod
 * schema, computes cache keys, gives the stage a fresh output folder and commits it.
 */
import type { z } from "zod";

/** One progress report from a long-running stage (the CLI renders rate and ETA). */
export interface Progress {
  /** Steps done so far. */
  step: number;
  /** Total steps, when known. */
  total?: number;
  /** What a step is ("img", "step", "MB"); used in the rate display. */
  unit?: string;
  /** Short free text shown after the counters (for example the current loss). */
  message?: string;
}

/** One committed upstream output that a stage instance reads. */
export interface StageInput {
  /** Instance id of the upstream stage, e.g. `train[method=arb]`. */
  id: string;
  /** Stage name as written in the YAML, e.g. `train`. */
  stage: string;
  /** Stage kind, e.g. `pretrain`. */
  kind: string;
  /** Cache key of the upstream instance. */
  key: string;
  /** Content digest of the upstream output (hash of its manifest). */
  digest: string;
  /** Absolute path of the committed, read-only output folder. */
  dir: string;
  /** The upstream instance's validated parameters. */
  params: Record<string, unknown>;
  /** The matrix values that produced the upstream instance (empty when not a matrix stage). */
  matrix: Record<string, unknown>;
}

/** What a stage kind's `run` receives. */
export interface StageContext<P> {
  /** Experiment name (the YAML `name`). */
  experiment: string;
  /** Active profile, or null. */
  profile: string | null;
  /** Instance id, e.g. `train[method=arb]`. */
  id: string;
  /** Stage kind name. */
  kind: string;
  /** This instance's cache key. */
  key: string;
  /** Parameters after schema validation (defaults applied, matrix values merged in). */
  params: P;
  /**
   * Matrix coordinates of this instance (empty when not a matrix stage): its own matrix
   * values plus those inherited by fanning out over matrix upstreams, keys sorted.
   */
  matrix: Record<string, unknown>;
  /**
   * Upstream outputs by upstream stage name (the names in `needs`). One entry per name
   * unless this stage declared `gather: true` on a matrix upstream, then one per instance.
   */
  inputs: Record<string, StageInput[]>;
  /** Fresh, empty folder: everything written here becomes the committed output. */
  outDir: string;
  /**
   * Scratch folder that survives a crashed or interrupted attempt of the same cache key
   * (for checkpoints to resume from); deleted after the stage commits.
   */
  stateDir: string;
  /** Root of the cache (`ARB_CACHE_DIR` or `.cache/`). */
  cacheDir: string;
  /** Aborted on Ctrl-C / SIGTERM: stop at the next safe point and throw. */
  signal: AbortSignal;
  /** A line of log output attributed to this stage. */
  log(message: string): void;
  /** Report progress of a long stage. */
  progress(p: Progress): void;
}

/** Helpers a kind's `fingerprint` may use. */
export interface FingerprintTools {
  /**
   * Content digest of a file (its SHA-256) or a folder (the digest of its manifest), streamed
   * and remembered in the stat cache, so unchanged large inputs are not read again.
   */
  hashPath(path: string): Promise<string>;
}

/** A stage kind: a named, versioned, schema-validated unit of work. */
export interface StageKind<S extends z.ZodTypeAny = z.ZodTypeAny> {
  /** Name used in `uses:`. */
  name: string;
  /** Bump when the kind's code changes what it produces: part of every cache key. */
  version: string;
  /** One line for `--help` and error messages. */
  description: string;
  /** Validates `with` (after matrix values are merged in); unknown keys are errors. */
  schema: S;
  /**
   * Optional: facts besides the parameters and upstream outputs that the output depends on,
   * such as the content of files outside the pipeline. The result (any JSON value) becomes
   * part of the cache key and the lock file. Called before every cache lookup.
   */
  fingerprint?(params: z.output<S>, tools: FingerprintTools): Promise<unknown>;
  /** Does the work, writing into `ctx.outDir`. Throws on failure. */
  run(ctx: StageContext<z.output<S>>): Promise<void>;
}

/** Lazily loaded registry of stage kinds, so tfjs is never imported when nothing trains. */
export type StageRegistry = Record<string, () => Promise<StageKind>>;
