/** Turns zod issues into readable problems positioned in the YAML they came from. */
import { z } from "zod";
import type { Problem, SourcePos } from "./errors.ts";

/** Finds the YAML position for a path inside the validated value (`key` for a key node). */
export type Locator = (path: (string | number)[], key?: boolean) => SourcePos;

/** What the validated value is called in messages ("parameter" for `with`, "field" elsewhere). */
export interface IssueContext {
  /** Prefix for every message, e.g. `stage "train"`. */
  subject: string;
  /** Shown before a path, e.g. `with.` for parameters. */
  pathPrefix?: string;
  /** Noun for unknown keys: `parameter` or `field`. */
  noun: string;
  /** Suffix naming what the keys belong to, e.g. `for kind "pretrain"`. */
  owner?: string;
  /** The schema, to list the known keys when an unknown one is used. */
  schema?: z.ZodTypeAny;
}

/** Converts every issue of `error` into a problem located through `locate`. */
export function issuesToProblems(
  error: z.ZodError,
  locate: Locator,
  ctx: IssueContext,
): Problem[] {
  const out: Problem[] = [];
  for (const issue of error.issues) {
    const path = issue.path;
    const where = (p: (string | number)[]) =>
      p.length
        ? `${ctx.pathPrefix ?? ""}${p.join(".")}`
        : (ctx.pathPrefix ?? "").replace(/\.$/, "");
    if (issue.code === "unrecognized_keys") {
      const known = ctx.schema ? knownKeys(ctx.schema, path) : [];
      for (const k of issue.keys) {
        const name = where([...path, k]);
        out.push({
          pos: locate([...path, k], true),
          message:
            `${ctx.subject}: unknown ${ctx.noun} "${name}"${ctx.owner ? " " + ctx.owner : ""}` +
            (known.length ? ` (known: ${known.join(", ")})` : ""),
        });
      }
      continue;
    }
    let message = issue.message;
    if (issue.code === "invalid_type" && issue.received === "undefined") {
      message = `missing required ${ctx.noun} (${issue.expected})`;
    } else if (issue.code === "invalid_type") {
      message = `expected ${issue.expected}, got ${issue.received}`;
    }
    const label = where(path);
    out.push({
      pos: locate(path),
      message: `${ctx.subject}: ${label ? `${ctx.noun} "${label}": ` : ""}${message}`,
    });
  }
  return out;
}

/** Keys of the object schema found at `path` inside `schema` (empty when not an object). */
export function knownKeys(schema: z.ZodTypeAny, path: (string | number)[]): string[] {
  let s: z.ZodTypeAny | undefined = unwrap(schema);
  for (const seg of path) {
    if (s instanceof z.ZodObject) s = unwrap(s.shape[seg as string]);
    else if (s instanceof z.ZodArray) s = unwrap(s.element);
    else if (s instanceof z.ZodRecord) s = unwrap(s.valueSchema);
    else return [];
  }
  return s instanceof z.ZodObject ? Object.keys(s.shape).sort() : [];
}

function unwrap(s: z.ZodTypeAny | undefined): z.ZodTypeAny | undefined {
  for (;;) {
    if (s instanceof z.ZodDefault) s = s._def.innerType;
    else if (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s.unwrap();
    else if (s instanceof z.ZodEffects) s = s.innerType();
    else return s;
  }
}
