/** Errors the engine reports to people: bad experiment files and bad command lines. */

/** A position in a source file, 1-based. */
export interface SourcePos {
  file: string;
  line: number;
  col: number;
}

/** One thing wrong with an input, where it comes from when known. */
export interface Problem {
  pos?: SourcePos;
  message: string;
}

/** Formats a problem as `file:line:col: message` (or just the message without a position). */
export function formatProblem(p: Problem): string {
  return p.pos ? `${p.pos.file}:${p.pos.line}:${p.pos.col}: ${p.message}` : p.message;
}

/** An experiment file that cannot be run; lists every problem found, each with its position. */
export class SpecError extends Error {
  override name = "SpecError";
  /** Every problem found (the message lists them all, one per line). */
  readonly problems: Problem[];
  constructor(problems: Problem[]) {
    super(problems.map(formatProblem).join("\n"));
    this.problems = problems;
  }
}

/** A command line that cannot be carried out (unknown flag, unknown stage id, ...). */
export class UsageError extends Error {
  override name = "UsageError";
}

/**
 * A stage failure whose message says everything (e.g. "command exited with code 2"): the
 * engine prints it without a stack trace. Other errors thrown by a stage print their stack.
 */
export class StageError extends Error {
  override name = "StageError";
}
