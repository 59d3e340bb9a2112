/**
 * The experiment file's structure (`name`, `description`, `profiles`, `stages`), validated
 * with positions, and the profile deep-merge. Parameters (`with`) are checked later against
 * each stage kind's own schema (see expand.ts).
 */
import { z } from "zod";
import type { Problem } from "./errors.ts";
import type { YamlPath, YamlSource } from "./yaml_source.ts";
import { issuesToProblems } from "./zod_issues.ts";

/** One stage as declared (after the profile is merged in). */
export interface StageSpec {
  /** The stage id: its key under `stages`. */
  name: string;
  /** The stage kind (`uses:`). */
  uses: string;
  needs: string[];
  /** Matrix axes: key (dots address nested parameters) to the values it takes. */
  matrix: Record<string, unknown[]>;
  with: Record<string, unknown>;
  gather: boolean;
  description?: string;
}

/** A validated experiment file with the chosen profile applied. */
export interface ExperimentSpec {
  name: string;
  description?: string;
  /** Active profile or null. */
  profile: string | null;
  /** Profiles the file declares. */
  profiles: string[];
  /** Stages in file order. */
  stages: StageSpec[];
  /** The parsed file, for positions. */
  source: YamlSource;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const nullAsMissing = (v: unknown) => v === null ? undefined : v;

const TopSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "use letters, digits, '.', '_' or '-'"),
  description: z.string().optional(),
  profiles: z.preprocess(
    nullAsMissing,
    z.record(
      z.string(),
      z.object({
        description: z.string().optional(),
        stages: z.record(z.string(), z.record(z.string(), z.unknown())),
      }).strict(),
    ).optional(),
  ),
  stages: z.record(z.string(), z.unknown()),
}).strict();

const StageSchema = z.object({
  uses: z.string().min(1),
  description: z.string().optional(),
  needs: z.preprocess(nullAsMissing, z.array(z.string()).default([])),
  matrix: z.preprocess(
    nullAsMissing,
    z.record(z.string(), z.array(z.unknown()).min(1, "a matrix axis needs at least one value"))
      .default({}),
  ),
  with: z.preprocess(nullAsMissing, z.record(z.string(), z.unknown()).default({})),
  gather: z.boolean().default(false),
}).strict();

/** Recursively merges `over` into `base`: objects merge key by key, anything else replaces. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = k in base ? deepMerge(base[k], v) : v;
  return out;
}

/** True for `{...}` values (not arrays, not null). */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Candidate YAML paths of a stage-relative path: the profile override first, then the base. */
export function stagePaths(profile: string | null, stage: string, rest: YamlPath): YamlPath[] {
  const base: YamlPath = ["stages", stage, ...rest];
  return profile ? [["profiles", profile, ...base], base] : [base];
}

/** Validates the structure of `source` and applies `profile`; returns problems on failure. */
export function parseSpec(
  source: YamlSource,
  profile: string | null,
): { spec: ExperimentSpec } | { problems: Problem[] } {
  if (source.value === null || source.value === undefined) {
    return { problems: [{ pos: source.pos([]), message: "the experiment file is empty" }] };
  }
  const top = TopSchema.safeParse(source.value);
  if (!top.success) {
    return {
      problems: issuesToProblems(top.error, (p, key) => source.pos(p, { key }), {
        subject: "experiment",
        noun: "field",
        schema: TopSchema,
      }),
    };
  }
  const profiles = Object.keys(top.data.profiles ?? {});
  let stagesValue: Record<string, unknown> = top.data.stages;
  if (profile !== null) {
    const chosen = top.data.profiles?.[profile];
    if (!chosen) {
      const known = profiles.length ? `known: ${profiles.join(", ")}` : "the file declares none";
      return {
        problems: [{
          pos: source.pos(["profiles"], { key: true }),
          message: `unknown profile "${profile}" (${known})`,
        }],
      };
    }
    stagesValue = deepMerge(stagesValue, chosen.stages) as Record<string, unknown>;
  }

  const problems: Problem[] = [];
  const stages: StageSpec[] = [];
  for (const [name, raw] of Object.entries(stagesValue)) {
    const locate = (p: (string | number)[], key?: boolean) =>
      source.locate(stagePaths(profile, name, p), { key });
    if (!NAME.test(name)) {
      problems.push({
        pos: locate([], true),
        message: `stage id "${name}": use letters, digits, '_' or '-', starting with a letter`,
      });
      continue;
    }
    const parsed = StageSchema.safeParse(raw);
    if (!parsed.success) {
      problems.push(...issuesToProblems(parsed.error, locate, {
        subject: `stage "${name}"`,
        noun: "field",
        schema: StageSchema,
      }));
      continue;
    }
    for (const axis of Object.keys(parsed.data.matrix)) {
      if (!axis.split(".").every((seg) => NAME.test(seg))) {
        problems.push({
          pos: locate(["matrix", axis], true),
          message: `stage "${name}": matrix key "${axis}": use parameter names joined by '.'`,
        });
      }
    }
    stages.push({ name, ...parsed.data });
  }
  if (problems.length) return { problems };
  return {
    spec: {
      name: top.data.name,
      description: top.data.description,
      profile,
      profiles,
      stages,
      source,
    },
  };
}
