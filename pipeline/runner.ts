/**
 * Runs the selected stage instances of an experiment: each one reuses its cached output when
 * its key hits, otherwise runs in a fresh work folder under a per-key OS lock and is
 * committed atomically. Independent instances run concurrently up to `jobs`; a failure
 * skips its dependants and lets everything else finish.
 */
import { removeIfExists } from "./atomic.ts";
import type { Cache, OutputManifest, RuntimeInfo } from "./cache.ts";
import { StageError } from "./errors.ts";
import type { Instance } from "./expand.ts";
import type { Experiment } from "./experiment.ts";
import type { StatCache } from "./hash.ts";
import { cacheKey, type KeyInputs, keyInputs } from "./key.ts";
import { acquireKeyLock } from "./key_lock.ts";
import type { RunUi } from "./progress.ts";
import { type Selection, withAncestors } from "./select.ts";
import type { StageContext, StageInput } from "./types.ts";

/** How an instance ended in this run. */
export type Status = "ran" | "cached" | "failed" | "skipped";

/** The outcome of one instance. */
export interface InstanceResult {
  id: string;
  stage: string;
  kind: string;
  status: Status;
  /** Seconds this run spent on it (lookup, or lookup + run + commit). */
  seconds: number;
  key: string | null;
  /** Why it failed or was skipped. */
  reason?: string;
  /** The key inputs and committed manifest, for ran and cached instances. */
  inputs?: KeyInputs;
  manifest?: OutputManifest;
}

/** Everything a run needs besides the experiment. */
export interface RunOptions extends Selection {
  cache: Cache;
  statCache: StatCache;
  /** Most instances running at once (at least 1). */
  jobs: number;
  signal: AbortSignal;
  ui: RunUi;
  runtime: RuntimeInfo;
}

/** A counting semaphore for job slots. */
class Slots {
  #free: number;
  #waiting: (() => void)[] = [];
  constructor(n: number) {
    this.#free = Math.max(1, n);
  }
  async use<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((r) => this.#waiting.push(r));
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}

const short = (key: string) => key.slice(0, 12);

/**
 * Runs the selection and returns one result per instance involved (the selected ones and the
 * upstream instances they read), in dependency order.
 */
export async function runExperiment(exp: Experiment, opts: RunOptions): Promise<InstanceResult[]> {
  const { cache, statCache, ui, signal } = opts;
  const involved = withAncestors(exp, opts.selected);
  const slots = new Slots(opts.jobs);
  const memo = new Map<string, Promise<InstanceResult>>();
  const keyChains = new Map<string, Promise<unknown>>(); // same key twice in this process

  const settle = (id: string): Promise<InstanceResult> => {
    let p = memo.get(id);
    if (!p) memo.set(id, p = settleInstance(exp.byId.get(id)!));
    return p;
  };

  async function settleInstance(inst: Instance): Promise<InstanceResult> {
    const base = { id: inst.id, stage: inst.stage, kind: inst.kind.name };
    const ups = await Promise.all(inst.upstream.map(settle));
    const bad = ups.find((u) => u.status === "failed" || u.status === "skipped");
    if (bad) {
      const why = bad.status === "failed" ? "failed" : "was skipped";
      return {
        ...base,
        status: "skipped",
        seconds: 0,
        key: null,
        reason: `upstream ${bad.id} ${why}`,
      };
    }
    if (signal.aborted) {
      return { ...base, status: "skipped", seconds: 0, key: null, reason: "interrupted" };
    }
    const t0 = performance.now();
    const seconds = () => (performance.now() - t0) / 1000;
    let inputs: KeyInputs;
    try {
      const digests = new Map(ups.map((u) => [u.id, u.manifest!.digest]));
      inputs = await keyInputs(inst, digests, statCache);
    } catch (e) {
      const reason = `cannot compute its cache key: ${errorText(e)}`;
      ui.info(`FAILED  ${inst.id}: ${reason}`);
      return { ...base, status: "failed", seconds: seconds(), key: null, reason };
    }
    const key = cacheKey(inputs);
    const forced = opts.forced.has(inst.id);
    const found = await cache.lookup(key, statCache);
    if (found.status === "hit" && !forced) {
      ui.info(`cached  ${inst.id}`);
      return {
        ...base,
        status: "cached",
        seconds: seconds(),
        key,
        inputs,
        manifest: found.manifest,
      };
    }
    if (!opts.selected.has(inst.id)) {
      const reason = "not selected (--only) and its output is not in the cache";
      return { ...base, status: "skipped", seconds: 0, key, reason };
    }
    if (found.status === "corrupt") {
      ui.warn(
        `${inst.id}: cache entry ${short(key)} is corrupt (${found.problem}); running it again`,
      );
    }
    const prev = keyChains.get(key) ?? Promise.resolve();
    // Seconds count from when the instance gets a slot: time queued behind other stages
    // (with --jobs 1, all of them) is not its own.
    const mine = prev.then(() =>
      slots.use(async () => {
        const started = performance.now();
        const r = await execute(inst, key, inputs, ups, forced);
        return { ...r, seconds: (performance.now() - started) / 1000 };
      })
    );
    keyChains.set(key, mine.catch(() => {}));
    return await mine;
  }

  async function execute(
    inst: Instance,
    key: string,
    inputs: KeyInputs,
    ups: InstanceResult[],
    forced: boolean,
  ): Promise<InstanceResult> {
    const base = { id: inst.id, stage: inst.stage, kind: inst.kind.name, seconds: 0, key };
    if (signal.aborted) return { ...base, status: "skipped", reason: "interrupted" };
    let lock;
    try {
      lock = await acquireKeyLock(cache.lockPath(key), {
        signal,
        onWait: (holder) =>
          ui.info(
            `waiting ${inst.id}: ${holder} is running it (key ${
              short(key)
            }); will reuse its output`,
          ),
      });
    } catch (e) {
      return { ...base, status: "skipped", reason: signal.aborted ? "interrupted" : errorText(e) };
    }
    try {
      const again = await cache.lookup(key, statCache);
      if (again.status === "hit" && !forced) {
        ui.info(`reused  ${inst.id}: another run committed it meanwhile`);
        return { ...base, status: "cached", inputs, manifest: again.manifest };
      }
      await cache.removeStaleWork(key);
      const outDir = await cache.createWorkDir(key);
      const stateDir = cache.stateDir(key);
      await Deno.mkdir(stateDir, { recursive: true });
      const startedAt = new Date().toISOString();
      const t0 = performance.now();
      ui.info(`run     ${inst.id}`);
      ui.stageStart(inst.id);
      try {
        await inst.kind.run(context(inst, key, outDir, stateDir, ups));
        signal.throwIfAborted();
        const seconds = Math.round(performance.now() - t0) / 1000;
        const manifest = await cache.commit(key, outDir, {
          id: inst.id,
          kind: inst.kind.name,
          kindVersion: inst.kind.version,
          startedAt,
          seconds,
          runtime: opts.runtime,
        }, statCache);
        await removeIfExists(stateDir);
        ui.stageEnd(inst.id);
        ui.info(`done    ${inst.id} (${seconds.toFixed(2)} s)`);
        return { ...base, status: "ran", inputs, manifest };
      } catch (e) {
        ui.stageEnd(inst.id);
        await removeIfExists(outDir);
        const reason = signal.aborted ? "interrupted" : errorText(e);
        const detail = e instanceof Error && !(e instanceof StageError) && !signal.aborted
          ? `\n${e.stack ?? ""}`
          : "";
        ui.info(`FAILED  ${inst.id}: ${reason}${detail}`);
        return { ...base, status: "failed", reason };
      }
    } finally {
      lock.release();
    }
  }

  function context(
    inst: Instance,
    key: string,
    outDir: string,
    stateDir: string,
    ups: InstanceResult[],
  ): StageContext<Record<string, unknown>> {
    const byId = new Map(ups.map((u) => [u.id, u]));
    const inputs: Record<string, StageInput[]> = {};
    for (const { need, ids } of inst.inputs) {
      inputs[need] = ids.map((id) => {
        const u = byId.get(id)!;
        const up = exp.byId.get(id)!;
        return {
          id,
          stage: up.stage,
          kind: up.kind.name,
          key: u.key!,
          digest: u.manifest!.digest,
          dir: cache.objectDir(u.key!),
          params: up.params,
          matrix: up.matrix,
        };
      });
    }
    return {
      experiment: exp.name,
      profile: exp.profile,
      id: inst.id,
      kind: inst.kind.name,
      key,
      params: inst.params,
      matrix: inst.matrix,
      inputs,
      outDir,
      stateDir,
      cacheDir: cache.root,
      signal,
      log: (m) => ui.stageLog(inst.id, m),
      progress: (p) => ui.stageProgress(inst.id, p),
    };
  }

  const ordered = exp.instances.filter((i) => involved.has(i.id));
  return await Promise.all(ordered.map((i) => settle(i.id)));
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
