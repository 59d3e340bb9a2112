/**
 * `reproduce [experiment] [--profile P] [--only ID] [--until ID] [--force[=ID]] [--dry-run]
 * [--jobs N] [--summary-json FILE]`: runs an experiment, reusing every cached stage.
 */
import { parseArgs } from "node:util";
import { UsageError } from "../errors.ts";
import { type LockRecord, lockRecord, updateLockFile } from "../lockfile.ts";
import { formatPlan, planExperiment } from "../plan.ts";
import { ConsoleUi } from "../progress.ts";
import { runExperiment } from "../runner.ts";
import { resolveSelection } from "../select.ts";
import { summaryJson, summaryTable, writeSummaryJson } from "../summary.ts";
import { runtimeInfo } from "../versions.ts";
import {
  type CliEnv,
  experimentArg,
  header,
  openCache,
  openExperiment,
  planLocks,
} from "./common.ts";

const HELP = `usage: deno task reproduce [experiment] [options]

Runs an experiment (a name in configs/ or a path to a YAML file; default: the README's).
Every stage instance whose cache key is unchanged is reused, not run.

  --profile P          deep-merge profile P of the file over its stages
  --only ID            run only this stage or instance (its inputs must be cached); repeatable
  --until ID           run this stage or instance and everything it needs; repeatable
  --force              run the selected stages even when cached
  --force=ID           run this stage or instance even when cached; repeatable
  --dry-run            say what would run and why, run nothing
  --jobs N             run up to N independent stages at once (default 1)
  --summary-json FILE  also write the summary as JSON

Environment: ARB_CACHE_DIR (cache folder, default .cache/), ARB_PROGRESS_INTERVAL (seconds
between progress lines when the output is not a terminal, default 10).
Exit status: 0 all stages ran or were cached, 1 a stage failed or was skipped, 2 bad input,
130/143 interrupted.`;

/** Parses the flags; `--force` without a value means every selected instance. */
export function parseReproduceArgs(args: string[]) {
  const normalised = args.map((a) => a === "--force" ? "--force=*" : a);
  const { values, positionals } = parseArgs({
    args: normalised,
    allowPositionals: true,
    options: {
      profile: { type: "string" },
      only: { type: "string", multiple: true },
      until: { type: "string", multiple: true },
      force: { type: "string", multiple: true },
      "dry-run": { type: "boolean" },
      jobs: { type: "string" },
      "summary-json": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const jobs = values.jobs === undefined ? 1 : Number(values.jobs);
  if (!Number.isInteger(jobs) || jobs < 1) {
    throw new UsageError(`--jobs must be a whole number of at least 1, got "${values.jobs}"`);
  }
  return { ...values, jobs, experiment: experimentArg(positionals) };
}

/** Entry point of the `reproduce` subcommand. */
export async function main(args: string[], env: CliEnv): Promise<number> {
  const opts = parseReproduceArgs(args);
  if (opts.help) {
    console.log(HELP);
    return 0;
  }
  const exp = await openExperiment(opts.experiment, opts.profile, env);
  const selection = resolveSelection(exp, {
    only: opts.only,
    until: opts.until,
    force: opts.force,
  });
  const { cache, statCache } = await openCache(env);

  if (opts["dry-run"]) {
    const plan = await planExperiment(exp, {
      ...selection,
      cache,
      statCache,
      ...(await planLocks(exp)),
    });
    console.log(`dry run: ${header(exp, cache.root)}`);
    console.log(formatPlan(plan));
    return 0;
  }

  const interval = Number(Deno.env.get("ARB_PROGRESS_INTERVAL") ?? 10);
  const ui = new ConsoleUi({
    live: Deno.stderr.isTerminal(),
    intervalMs: Math.max(0.05, Number.isFinite(interval) ? interval : 10) * 1000,
  });
  const controller = new AbortController();
  let exitSignal: "SIGINT" | "SIGTERM" | null = null;
  const onSignal = (sig: "SIGINT" | "SIGTERM") => () => {
    if (exitSignal) Deno.exit(sig === "SIGINT" ? 130 : 143); // second signal: leave now
    exitSignal = sig;
    ui.warn(`${sig}: stopping running stages (send it again to exit at once)`);
    controller.abort(new Error(`interrupted by ${sig}`));
  };
  const handlers = { SIGINT: onSignal("SIGINT"), SIGTERM: onSignal("SIGTERM") } as const;
  for (const [sig, h] of Object.entries(handlers)) Deno.addSignalListener(sig as "SIGINT", h);

  try {
    ui.info(`${header(exp, cache.root)}, jobs ${opts.jobs}`);
    const results = await runExperiment(exp, {
      ...selection,
      cache,
      statCache,
      jobs: opts.jobs,
      signal: controller.signal,
      ui,
      runtime: await runtimeInfo(`${env.root}/deno.json`),
    });
    ui.close();

    const records = new Map<string, LockRecord>();
    for (const r of results) {
      if (r.manifest && r.inputs) {
        const inst = exp.byId.get(r.id)!;
        records.set(r.id, lockRecord(inst.stage, inst.matrix, r.inputs, r.manifest));
      }
    }
    await updateLockFile(exp, records);
    await statCache.save();
    console.log(summaryTable(results));
    if (opts["summary-json"]) {
      await writeSummaryJson(opts["summary-json"], summaryJson(exp.name, exp.profile, results));
    }
    if (exitSignal) return exitSignal === "SIGINT" ? 130 : 143;
    return results.every((r) => r.status === "ran" || r.status === "cached") ? 0 : 1;
  } finally {
    ui.close();
    for (const [sig, h] of Object.entries(handlers)) Deno.removeSignalListener(sig as "SIGINT", h);
  }
}
