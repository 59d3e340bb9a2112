/** Which stage instances a run covers: `--only`, `--until` and `--force` resolved to ids. */
import { UsageError } from "./errors.ts";
import type { Experiment } from "./experiment.ts";

/** The resolved selection. */
export interface Selection {
  /** Instances to run (or reuse) in this run. */
  selected: Set<string>;
  /** Instances to run even when cached. */
  forced: Set<string>;
}

/** Options as given on the command line; patterns are stage names or instance ids. */
export interface SelectOptions {
  only?: string[];
  until?: string[];
  /** `["*"]` forces every selected instance. */
  force?: string[];
}

/** The instances a pattern names: an instance id, or every instance of a stage name. */
export function matchInstances(exp: Experiment, pattern: string): string[] {
  if (exp.byId.has(pattern)) return [pattern];
  const ids = exp.instances.filter((i) => i.stage === pattern).map((i) => i.id);
  if (ids.length) return ids;
  throw new UsageError(
    `no stage or stage instance "${pattern}" in ${exp.displayFile} (instances: ${
      exp.instances.map((i) => i.id).join(", ")
    })`,
  );
}

/** Every instance `ids` depend on, directly or not, plus `ids` themselves. */
export function withAncestors(exp: Experiment, ids: Iterable<string>): Set<string> {
  const out = new Set<string>();
  const visit = (id: string) => {
    if (out.has(id)) return;
    out.add(id);
    exp.byId.get(id)!.upstream.forEach(visit);
  };
  for (const id of ids) visit(id);
  return out;
}

/** Resolves the command-line selection against `exp`. */
export function resolveSelection(exp: Experiment, opts: SelectOptions): Selection {
  const only = opts.only ?? [];
  const until = opts.until ?? [];
  if (only.length && until.length) throw new UsageError("use either --only or --until, not both");
  let selected: Set<string>;
  if (only.length) selected = new Set(only.flatMap((p) => matchInstances(exp, p)));
  else if (until.length) {
    selected = withAncestors(exp, until.flatMap((p) => matchInstances(exp, p)));
  } else selected = new Set(exp.instances.map((i) => i.id));

  const forced = new Set<string>();
  for (const p of opts.force ?? []) {
    const ids = p === "*" ? [...selected] : matchInstances(exp, p);
    for (const id of ids) {
      if (!selected.has(id)) {
        throw new UsageError(`--force=${p}: ${id} is not part of this run's selection`);
      }
      forced.add(id);
    }
  }
  return { selected, forced };
}
