/**
 * Decides, without running anything, what a run would do with each instance and why:
 * `status` prints it for the whole experiment, `reproduce --dry-run` for a selection.
 * The reasons compare the current key inputs with the lock file's record of the last run.
 */
import type { Cache } from "./cache.ts";
import { canonicalJson } from "./canonical.ts";
import type { Experiment } from "./experiment.ts";
import type { StatCache } from "./hash.ts";
import { cacheKey, type KeyInputs, keyInputs } from "./key.ts";
import type { LockFile, LockRecord } from "./lockfile.ts";
import { type Selection, withAncestors } from "./select.ts";

/** What would happen to one instance. */
export interface PlanEntry {
  id: string;
  /** `cached`: reused; `run`: would run; `blocked`: cannot run in this selection. */
  action: "cached" | "run" | "blocked";
  reasons: string[];
  /** Known when every upstream output is known. */
  key: string | null;
  /** Output digest when cached. */
  digest: string | null;
}

/** Inputs of {@link planExperiment}. */
export interface PlanOptions extends Selection {
  cache: Cache;
  statCache: StatCache;
  lock: LockFile | null;
  /** Lock file path as shown in reasons. */
  lockDisplay: string;
  /**
   * With a profile: the lock file of the run without it, used to explain instances the
   * profile's own lock file has no record of.
   */
  fallback?: { lock: LockFile | null; display: string };
}

const short = (s: string) => s.slice(0, 12);

function show(v: unknown): string {
  const s = v === undefined ? "(none)" : canonicalJson(v);
  return s.length > 60 ? s.slice(0, 57) + "..." : s;
}

/** Lists changed leaves between two JSON values as `path: old -> new`. */
export function diffValues(a: unknown, b: unknown, path = ""): string[] {
  const isObj = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => diffValues(a[k], b[k], path ? `${path}.${k}` : k));
  }
  if (a === undefined && b === undefined) return [];
  if (a !== undefined && b !== undefined && canonicalJson(a) === canonicalJson(b)) return [];
  return [`${path}: ${show(a)} -> ${show(b)}`];
}

/** Says why an instance whose key misses the cache would run, given its last record. */
export function explain(
  rec: LockRecord | undefined,
  now: KeyInputs,
  key: string,
  lockDisplay: string,
): string[] {
  if (!rec) return [`never ran (no record in ${lockDisplay})`];
  const reasons: string[] = [];
  if (rec.kind !== now.kind) reasons.push(`kind changed: ${rec.kind} -> ${now.kind}`);
  else if (rec.kindVersion !== now.kindVersion) {
    reasons.push(
      `code version of kind ${now.kind} changed: ${rec.kindVersion} -> ${now.kindVersion}`,
    );
  }
  for (const d of diffValues(rec.params, now.params)) reasons.push(`param ${d}`);
  const ids = [...new Set([...Object.keys(rec.upstream ?? {}), ...Object.keys(now.upstream)])]
    .sort();
  for (const id of ids) {
    const was = rec.upstream?.[id];
    const is = now.upstream[id];
    if (was === undefined) reasons.push(`new upstream ${id}`);
    else if (is === undefined) reasons.push(`upstream ${id} no longer read`);
    else if (was !== is) {
      reasons.push(`upstream ${id} output changed: ${short(was)} -> ${short(is)}`);
    }
  }
  for (const d of diffValues(rec.fingerprint, now.fingerprint)) reasons.push(`input ${d}`);
  if (reasons.length) return reasons;
  return rec.key === key
    ? [`its output (key ${short(key)}) is not in the cache`]
    : [`cache key changed: ${short(rec.key)} -> ${short(key)}`];
}

/** Plans every instance involved in the selection, in dependency order. */
export async function planExperiment(exp: Experiment, opts: PlanOptions): Promise<PlanEntry[]> {
  const involved = withAncestors(exp, opts.selected);
  const entries = new Map<string, PlanEntry>();
  for (const inst of exp.instances) {
    if (!involved.has(inst.id)) continue;
    const ups = inst.upstream.map((id) => entries.get(id)!);
    const blocked = ups.find((u) => u.action === "blocked");
    const pending = ups.find((u) => u.action === "run");
    let entry: PlanEntry;
    if (blocked) {
      entry = {
        id: inst.id,
        action: "blocked",
        reasons: [`upstream ${blocked.id} cannot run`],
        key: null,
        digest: null,
      };
    } else if (pending) {
      entry = {
        id: inst.id,
        action: opts.selected.has(inst.id) ? "run" : "blocked",
        reasons: [`upstream ${pending.id} will run`],
        key: null,
        digest: null,
      };
    } else {
      entry = await planOne(inst.id, new Map(ups.map((u) => [u.id, u.digest!])), opts, exp);
    }
    entries.set(inst.id, entry);
  }
  return [...entries.values()];
}

async function planOne(
  id: string,
  digests: Map<string, string>,
  opts: PlanOptions,
  exp: Experiment,
): Promise<PlanEntry> {
  const inst = exp.byId.get(id)!;
  let inputs: KeyInputs;
  try {
    inputs = await keyInputs(inst, digests, opts.statCache);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    return {
      id,
      action: "blocked",
      reasons: [`cannot compute its cache key: ${msg}`],
      key: null,
      digest: null,
    };
  }
  const key = cacheKey(inputs);
  const found = await opts.cache.lookup(key, opts.statCache);
  const rec = opts.lock?.stages[id];
  if (found.status === "hit" && !opts.forced.has(id)) {
    const why = !rec || rec.key === key
      ? "up to date"
      : "an earlier output with these exact inputs is in the cache";
    return { id, action: "cached", reasons: [why], key, digest: found.manifest.digest };
  }
  if (!opts.selected.has(id)) {
    return {
      id,
      action: "blocked",
      reasons: ["not selected and its output is not in the cache"],
      key,
      digest: null,
    };
  }
  if (opts.forced.has(id)) {
    return { id, action: "run", reasons: ["forced (--force)"], key, digest: null };
  }
  const base = opts.fallback?.lock?.stages[id];
  const reasons = found.status === "corrupt"
    ? [`cached output is corrupt (${found.problem})`]
    : !rec && base
    ? explain(base, inputs, key, opts.lockDisplay).map((r) => `${r} (vs ${opts.fallback!.display})`)
    : explain(rec, inputs, key, opts.lockDisplay);
  return { id, action: "run", reasons, key, digest: null };
}

/** Renders a plan as aligned lines: action, instance id, reasons. */
export function formatPlan(entries: PlanEntry[]): string {
  const width = Math.max(0, ...entries.map((e) => e.id.length));
  const lines = entries.map((e) =>
    `  ${e.action.padEnd(7)} ${e.id.padEnd(width)}  ${e.reasons.join("; ")}`
  );
  const n = entries.filter((e) => e.action === "run").length;
  const b = entries.filter((e) => e.action === "blocked").length;
  lines.push(
    `${n} of ${entries.length} stage instance(s) would run` + (b ? `, ${b} cannot run` : "") + ".",
  );
  return lines.join("\n");
}
