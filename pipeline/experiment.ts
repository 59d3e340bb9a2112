/**
 * Loads an experiment: finds the YAML file, validates it, applies the profile, orders the
 * stages, loads (only) the stage kinds it uses and expands the matrix into instances.
 * Every problem is reported at once, each with `file:line:column`.
 */
import { resolve } from "node:path";
import { orderStages } from "./dag.ts";
import { SpecError, UsageError } from "./errors.ts";
import { expandInstances, type Instance } from "./expand.ts";
import { parseSpec, type StageSpec } from "./spec.ts";
import type { StageKind, StageRegistry } from "./types.ts";
import { YamlSource } from "./yaml_source.ts";

/** A loaded, validated experiment ready to plan or run. */
export interface Experiment {
  name: string;
  description?: string;
  profile: string | null;
  /** Absolute path of the YAML file. */
  file: string;
  /** The path as shown in messages (relative to the working folder when inside it). */
  displayFile: string;
  /** Absolute path of the lock file (`<name>.lock.json` or `<name>.<profile>.lock.json`). */
  lockFile: string;
  stages: StageSpec[];
  /** Instances in dependency order. */
  instances: Instance[];
  byId: Map<string, Instance>;
}

/** Where to look for experiments and stage kinds. */
export interface LoadOptions {
  /** Folder of named experiments (`configs/`). */
  configsDir: string;
  registry: StageRegistry;
  profile: string | null;
}

/** Makes `path` relative to the working folder when it lies inside it. */
export function displayPath(path: string): string {
  const cwd = Deno.cwd();
  return path.startsWith(cwd + "/") ? path.slice(cwd.length + 1) : path;
}

/**
 * Resolves an experiment argument: a path to a YAML file (contains `/` or ends in
 * `.yaml`/`.yml`), or a name looked up as `configsDir/<name>.yaml`. A missing experiment is
 * a {@link UsageError} that lists the experiments in `configsDir`.
 */
export async function resolveExperimentFile(arg: string, configsDir: string): Promise<string> {
  const isPath = arg.includes("/") || /\.ya?ml$/.test(arg);
  const candidates = isPath
    ? [resolve(arg)]
    : [`${configsDir}/${arg}.yaml`, `${configsDir}/${arg}.yml`];
  for (const c of candidates) {
    try {
      if ((await Deno.stat(c)).isFile) return c;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  const known = await listExperiments(configsDir);
  throw new UsageError(
    `experiment "${arg}" not found (looked for ${candidates.map(displayPath).join(", ")}). ` +
      (known.length
        ? `Experiments in ${displayPath(configsDir)}/: ${known.join(", ")}`
        : `${displayPath(configsDir)}/ has no experiments (*.yaml) yet`),
  );
}

/** Names of the experiments (`*.yaml`, `*.yml`) in `configsDir`, sorted. */
export async function listExperiments(configsDir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(configsDir)) {
      const m = e.isFile ? /^(.*)\.ya?ml$/.exec(e.name) : null;
      // Data files beside the experiments (paper.yaml, baselines.yaml) have no `stages:`.
      if (m && /^stages:/m.test(await Deno.readTextFile(`${configsDir}/${e.name}`))) {
        names.push(m[1]);
      }
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return names.sort();
}

/** Path of the lock file for `file` and `profile`. */
export function lockFileFor(file: string, profile: string | null): string {
  const base = file.replace(/\.ya?ml$/, "");
  return profile ? `${base}.${profile}.lock.json` : `${base}.lock.json`;
}

/** Loads and validates the experiment named or located by `arg`. */
export async function loadExperiment(arg: string, opts: LoadOptions): Promise<Experiment> {
  const file = await resolveExperimentFile(arg, opts.configsDir);
  const displayFile = displayPath(file);
  const source = YamlSource.parse(displayFile, await Deno.readTextFile(file));
  if (source.problems.length) throw new SpecError(source.problems);

  const parsed = parseSpec(source, opts.profile);
  if ("problems" in parsed) throw new SpecError(parsed.problems);
  const spec = parsed.spec;

  const ordered = orderStages(spec);
  if ("problems" in ordered) throw new SpecError(ordered.problems);

  const kinds = new Map<string, StageKind>();
  const known = Object.keys(opts.registry).sort();
  const problems = spec.stages.filter((s) => !Object.hasOwn(opts.registry, s.uses)).map((s) => ({
    pos: source.locate(
      opts.profile
        ? [["profiles", opts.profile, "stages", s.name, "uses"], ["stages", s.name, "uses"]]
        : [["stages", s.name, "uses"]],
    ),
    message: `stage "${s.name}" uses unknown kind "${s.uses}" (known kinds: ${known.join(", ")})`,
  }));
  if (problems.length) throw new SpecError(problems);
  const used = [...new Set(spec.stages.map((s) => s.uses))];
  await Promise.all(used.map(async (name) => kinds.set(name, await opts.registry[name]())));

  const expanded = expandInstances(spec, ordered.order, kinds);
  if ("problems" in expanded) throw new SpecError(expanded.problems);

  return {
    name: spec.name,
    description: spec.description,
    profile: spec.profile,
    file,
    displayFile,
    lockFile: lockFileFor(file, spec.profile),
    stages: spec.stages,
    instances: expanded.instances,
    byId: new Map(expanded.instances.map((i) => [i.id, i])),
  };
}
