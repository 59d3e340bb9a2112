/**
 * Matrix expansion and fan-out: turns ordered stage specs into stage instances, each with its
 * validated parameters and the upstream instances it reads.
 *
 * An instance's coordinates are its own matrix values plus those inherited from the matrix
 * upstreams it needs (unless `gather: true`): `eval` needing `train[method=arb]` and
 * `train[method=bt]` becomes `eval[method=arb]` and `eval[method=bt]`, each reading its own.
 * Two needs that share a coordinate key are joined on it.
 */
import { canonicalJson } from "./canonical.ts";
import type { Problem } from "./errors.ts";
import { deepMerge, type ExperimentSpec, stagePaths, type StageSpec } from "./spec.ts";
import type { StageKind } from "./types.ts";
import { issuesToProblems } from "./zod_issues.ts";

/** One runnable instance of a stage. */
export interface Instance {
  /** `stage` or `stage[k=v,...]` (keys sorted). */
  id: string;
  /** Stage name in the YAML. */
  stage: string;
  kind: StageKind;
  /** Parameters after the kind's schema (defaults applied, matrix values merged in). */
  params: Record<string, unknown>;
  /** Coordinates: own matrix values and inherited ones, keys sorted. */
  matrix: Record<string, unknown>;
  /** Upstream instance ids per entry of `needs` (one each, or all of them with `gather`). */
  inputs: { need: string; ids: string[] }[];
  /** Every upstream instance id, deduplicated. */
  upstream: string[];
}

type Coords = Record<string, unknown>;

/** Formats a coordinate value for an instance id. */
export function formatCoord(v: unknown): string {
  if (typeof v === "string") {
    return /^[A-Za-z_/][\w.+/-]*$/.test(v) && !/^(true|false|null)$/.test(v)
      ? v
      : JSON.stringify(v);
  }
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return canonicalJson(v);
}

/** The instance id of `stage` at `coords`. */
export function instanceId(stage: string, coords: Coords): string {
  const keys = Object.keys(coords).sort();
  if (keys.length === 0) return stage;
  return `${stage}[${keys.map((k) => `${k}=${formatCoord(coords[k])}`).join(",")}]`;
}

function compatible(a: Coords, b: Coords): boolean {
  for (const k of Object.keys(b)) {
    if (k in a && canonicalJson(a[k]) !== canonicalJson(b[k])) return false;
  }
  return true;
}

function sortKeys(c: Coords): Coords {
  return Object.fromEntries(Object.keys(c).sort().map((k) => [k, c[k]]));
}

/** Nests a dotted axis value: `("opt.lr", 0.1)` gives `{ opt: { lr: 0.1 } }`. */
function nest(axis: string, value: unknown): Record<string, unknown> {
  return axis.split(".").reduceRight<unknown>((v, k) => ({ [k]: v }), value) as Record<
    string,
    unknown
  >;
}

/** Expands every stage (in dependency order) into instances with validated parameters. */
export function expandInstances(
  spec: ExperimentSpec,
  order: StageSpec[],
  kinds: Map<string, StageKind>,
): { instances: Instance[] } | { problems: Problem[] } {
  const problems: Problem[] = [];
  const seen = new Set<string>();
  const add = (p: Problem) => {
    const k = JSON.stringify(p);
    if (!seen.has(k)) (seen.add(k), problems.push(p));
  };
  const byStage = new Map<string, Instance[]>();
  const instances: Instance[] = [];
  const src = spec.source;
  const broken = new Set<string>(); // stages with problems: their dependants are not expanded

  for (const stage of order) {
    if (stage.needs.some((n) => broken.has(n))) {
      broken.add(stage.name);
      continue;
    }
    const before = problems.length;
    const kind = kinds.get(stage.uses)!;
    const locate = (p: (string | number)[], key?: boolean) =>
      src.locate(stagePaths(spec.profile, stage.name, p), { key });

    // Join the upstream instances on shared coordinates.
    let combos: { coords: Coords; picks: Map<string, string[]> }[] = [{
      coords: {},
      picks: new Map(),
    }];
    for (const need of stage.needs) {
      const ups = byStage.get(need) ?? [];
      if (stage.gather) {
        combos.forEach((c) => c.picks.set(need, ups.map((u) => u.id)));
        continue;
      }
      combos = combos.flatMap((c) =>
        ups.filter((u) => compatible(c.coords, u.matrix)).map((u) => ({
          coords: { ...c.coords, ...u.matrix },
          picks: new Map([...c.picks, [need, [u.id]]]),
        }))
      );
    }
    if (combos.length === 0) {
      add({
        pos: locate(["needs"]),
        message: `stage "${stage.name}": its needs share matrix keys but no values in common, ` +
          `so it has no instances (declare gather: true to read them all)`,
      });
      broken.add(stage.name);
      continue;
    }

    // Own matrix axes: cartesian product, in sorted key order.
    const axes = Object.keys(stage.matrix).sort();
    const inherited = new Set(combos.flatMap((c) => Object.keys(c.coords)));
    const clash = axes.filter((a) => inherited.has(a));
    if (clash.length) {
      for (const a of clash) {
        add({
          pos: locate(["matrix", a], true),
          message: `stage "${stage.name}": matrix key "${a}" is already inherited from its ` +
            `needs; remove it here or declare gather: true`,
        });
      }
      broken.add(stage.name);
      continue;
    }
    let own: { coords: Coords; index: Record<string, number> }[] = [{ coords: {}, index: {} }];
    for (const a of axes) {
      own = own.flatMap((o) =>
        stage.matrix[a].map((v, i) => ({
          coords: { ...o.coords, [a]: v },
          index: { ...o.index, [a]: i },
        }))
      );
    }

    const list: Instance[] = [];
    const ids = new Set<string>();
    for (const c of combos) {
      for (const o of own) {
        const coords = sortKeys({ ...c.coords, ...o.coords });
        const id = instanceId(stage.name, coords);
        if (ids.has(id)) {
          add({
            pos: locate(["matrix"], true),
            message:
              `stage "${stage.name}": duplicate instance id ${id} (a matrix value is repeated)`,
          });
          continue;
        }
        ids.add(id);
        let raw: unknown = stage.with;
        for (const a of axes) raw = deepMerge(raw, nest(a, o.coords[a]));
        const parsed = kind.schema.safeParse(raw);
        if (!parsed.success) {
          const paramLocate = (p: (string | number)[], key?: boolean) => {
            for (const a of axes) {
              const segs = a.split(".");
              if (segs.every((s, i) => p[i] === s)) {
                if (key && p.length === segs.length) return locate(["matrix", a], true);
                return locate(["matrix", a, o.index[a], ...p.slice(segs.length)], key);
              }
            }
            return locate(["with", ...p], key);
          };
          for (
            const p of issuesToProblems(parsed.error, paramLocate, {
              subject: `stage "${stage.name}"`,
              pathPrefix: "with.",
              noun: "parameter",
              owner: `for kind "${kind.name}"`,
              schema: kind.schema,
            })
          ) add(p);
          continue;
        }
        const inputs = stage.needs.map((need) => ({ need, ids: c.picks.get(need) ?? [] }));
        list.push({
          id,
          stage: stage.name,
          kind,
          params: parsed.data as Record<string, unknown>,
          matrix: coords,
          inputs,
          upstream: [...new Set(inputs.flatMap((i) => i.ids))],
        });
      }
    }
    if (problems.length > before) broken.add(stage.name);
    byStage.set(stage.name, list);
    instances.push(...list);
  }
  return problems.length ? { problems } : { instances };
}
