/**
 * The command line: `deno run -A main.ts <command> [args]` (`deno task reproduce`,
 * `deno task status`). Subcommands load lazily, so a run never imports code it does not use;
 * adding one is one line in `commands`: a module exporting `main(args, env): Promise<number>`.
 */
import type { CliEnv, Subcommand } from "./pipeline/cli/common.ts";
import { SpecError, UsageError } from "./pipeline/errors.ts";
import { registry } from "./stages/registry.ts";

/** Experiment run when none is named (see README). */
export const DEFAULT_EXPERIMENT = "fashion-mnist";

type Entry = { about: string; load: () => Promise<{ main: Subcommand }> };
const commands: Record<string, Entry> = {
  reproduce: {
    about: "run an experiment, reusing cached stages",
    load: () => import("./pipeline/cli/reproduce.ts"),
  },
  status: {
    about: "say what reproduce would run, and why",
    load: () => import("./pipeline/cli/status.ts"),
  },
  report: {
    about: "render reports/<experiment>/ from the metrics database",
    load: () => import("./reports/cli.ts"),
  },
  metrics: {
    about: "rebuild the metrics database from the cache (or ingest run folders)",
    load: () => import("./metrics/cli.ts"),
  },
  regress: {
    about: "run the CI experiment and gate its accuracy on configs/baselines.yaml",
    load: () => import("./regress/cli.ts"),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  const lines = Object.entries(commands).map(([c, e]) => `  ${c.padEnd(width)}  ${e.about}`);
  return `usage: deno run -A main.ts <command> [args] (--help for a command's options)\n\n${
    lines.join("\n")
  }`;
}

/** Runs the command line `args` and returns the exit code. */
export async function run(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (!name || name === "-h" || name === "--help") {
    console.log(usage());
    return name ? 0 : 2;
  }
  const entry = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!entry) {
    console.error(`error: unknown command "${name}"\n${usage()}`);
    return 2;
  }
  const env: CliEnv = {
    root: import.meta.dirname!,
    registry,
    defaultExperiment: DEFAULT_EXPERIMENT,
  };
  try {
    return await (await entry.load()).main(rest, env);
  } catch (e) {
    if (e instanceof SpecError) {
      console.error(`error: invalid experiment:\n${e.message}`);
      return 2;
    }
    if (
      e instanceof UsageError ||
      (e instanceof TypeError && "code" in e && String(e.code).startsWith("ERR_PARSE_ARGS"))
    ) {
      console.error(`error: ${e.message}`);
      return 2;
    }
    throw e;
  }
}

if (import.meta.main) Deno.exit(await run(Deno.args));
