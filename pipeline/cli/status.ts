/** `status [experiment] [--profile P]`: what a run would do with each stage, and why. */
import { parseArgs } from "node:util";
import { formatPlan, planExperiment } from "../plan.ts";
import { resolveSelection } from "../select.ts";
import {
  type CliEnv,
  experimentArg,
  header,
  openCache,
  openExperiment,
  planLocks,
} from "./common.ts";

const HELP = `usage: deno task status [experiment] [--profile P]

Says, per stage instance, whether \`reproduce\` would run it or reuse its cached output, and
why (which parameter, code version or upstream output changed since the last run, as
recorded in the experiment's lock file). Runs nothing.`;

/** Entry point of the `status` subcommand. */
export async function main(args: string[], env: CliEnv): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { profile: { type: "string" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const exp = await openExperiment(experimentArg(positionals), values.profile, env);
  const { cache, statCache } = await openCache(env);
  const plan = await planExperiment(exp, {
    ...resolveSelection(exp, {}),
    cache,
    statCache,
    ...(await planLocks(exp)),
  });
  console.log(header(exp, cache.root));
  console.log(formatPlan(plan));
  await statCache.save();
  return 0;
}
