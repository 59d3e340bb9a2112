/**
 * The `command` stage kind: runs a shell command (`bash -c`) as a pipeline stage, so a
 * pipeline can be built from any program.
 *
 * ```yaml
 * stages:
 *   gen:
 *     uses: command
 *     with:
 *       run: seq 1 $N > $OUT/numbers.txt
 *       outs: [numbers.txt]
 *       env: { N: 10 }
 * ```
 *
 * The command sees `$OUT` (its output folder), `$STATE` (a folder kept across a crashed
 * attempt), `$IN_<STAGE>` for each stage in `needs` (upper-cased, non-alphanumerics as `_`;
 * with `gather: true` one folder per line) and `$IN_<INSTANCE_ID>` for each upstream
 * instance, plus `with.env`. Its output lines are logged with the stage id; a line
 * `::progress STEP[/TOTAL] [message]` reports progress instead. It fails when it exits
 * non-zero or a declared out is missing. It runs in its own process group, killed as a
 * whole on Ctrl-C / SIGTERM.
 */
import { z } from "zod";
import { StageError } from "../pipeline/errors.ts";
import type { StageContext, StageKind } from "../pipeline/types.ts";

const RelPath = z.string().min(1).refine(
  (p) => !p.startsWith("/") && !p.split("/").includes(".."),
  "must be a path inside $OUT (relative, without ..)",
);

const Params = z.object({
  /** The bash script. */
  run: z.string().min(1),
  /** Paths (relative to $OUT) the command must create. */
  outs: z.array(RelPath).default([]),
  /** Extra environment variables. */
  env: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
  /** Files or folders outside the pipeline whose content is part of the cache key. */
  deps: z.array(z.string().min(1)).default([]),
}).strict();

type Params = z.output<typeof Params>;

/** Grace period between SIGTERM and SIGKILL when a run is interrupted. */
const KILL_GRACE_MS = 3000;
const PROGRESS = /^::progress\s+(\d+(?:\.\d+)?)(?:\/(\d+(?:\.\d+)?))?(?:\s+(.*))?$/;

/** `train[method=arb]` -> `TRAIN_METHOD_ARB_`. */
export function envName(id: string): string {
  return id.toUpperCase().replace(/[^A-Z0-9]/g, "_");
}

/** The environment the command runs with (on top of the process environment). */
export function commandEnv(ctx: StageContext<Params>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, inputs] of Object.entries(ctx.inputs)) {
    env[`IN_${envName(name)}`] = inputs.map((i) => i.dir).join("\n");
    for (const i of inputs) env[`IN_${envName(i.id)}`] = i.dir;
  }
  for (const [k, v] of Object.entries(ctx.params.env)) env[k] = String(v);
  env.OUT = ctx.outDir;
  env.STATE = ctx.stateDir;
  return env;
}

async function forwardLines(
  stream: ReadableStream<Uint8Array>,
  ctx: StageContext<Params>,
): Promise<void> {
  let pending = "";
  const emit = (line: string) => {
    const m = PROGRESS.exec(line);
    if (m) {
      ctx.progress({
        step: Number(m[1]),
        total: m[2] === undefined ? undefined : Number(m[2]),
        message: m[3],
      });
    } else ctx.log(line);
  };
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    pending += chunk;
    const lines = pending.split("\n");
    pending = lines.pop()!;
    lines.forEach(emit);
  }
  if (pending) emit(pending);
}

function killGroup(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(-pid, signal);
  } catch { /* the group is gone already */ }
}

/** The `command` kind. */
export const kind: StageKind<typeof Params> = {
  name: "command",
  version: "1",
  description: "runs a bash command; $OUT is its output folder, $IN_<STAGE> its inputs",
  schema: Params,

  async fingerprint(params, tools) {
    if (params.deps.length === 0) return undefined;
    const deps: Record<string, string> = {};
    for (const d of params.deps) {
      try {
        deps[d] = await tools.hashPath(d);
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) throw new StageError(`dependency ${d} not found`);
        throw e;
      }
    }
    return { deps };
  },

  async run(ctx) {
    ctx.signal.throwIfAborted();
    const child = new Deno.Command("bash", {
      args: ["-c", ctx.params.run],
      env: commandEnv(ctx),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: true, // own process group: killed as a whole, and not by the terminal's Ctrl-C
    }).spawn();
    let killTimer: ReturnType<typeof setTimeout> | undefined;
    const onAbort = () => {
      killGroup(child.pid, "SIGTERM");
      killTimer = setTimeout(() => killGroup(child.pid, "SIGKILL"), KILL_GRACE_MS);
    };
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    const readers = Promise.all([forwardLines(child.stdout, ctx), forwardLines(child.stderr, ctx)]);
    let status: Deno.CommandStatus;
    try {
      status = await child.status;
    } finally {
      ctx.signal.removeEventListener("abort", onAbort);
      clearTimeout(killTimer);
      killGroup(child.pid, "SIGKILL"); // background leftovers must not outlive the stage
      await readers;
    }
    ctx.signal.throwIfAborted();
    if (!status.success) {
      throw new StageError(
        status.signal
          ? `command killed by ${status.signal}`
          : `command exited with code ${status.code}`,
      );
    }
    for (const out of ctx.params.outs) {
      try {
        await Deno.stat(`${ctx.outDir}/${out}`);
      } catch {
        throw new StageError(`declared output "${out}" was not created in $OUT`);
      }
    }
  },
};
