/**
 * `deno task regress [--update]`: runs the CI experiment (`configs/ci.yaml`) and checks its
 * accuracies against `configs/baselines.yaml`. Writes a JUnit XML file and a Markdown summary
 * (also appended to `$GITHUB_STEP_SUMMARY` when set). `--update` runs the `spread` profile
 * (several seeds), and rewrites the baselines from the measured mean and spread.
 */
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { type CliEnv, openCache, openExperiment } from "../pipeline/cli/common.ts";
import { main as reproduce } from "../pipeline/cli/reproduce.ts";
import { UsageError } from "../pipeline/errors.ts";
import { writeFileAtomic } from "../pipeline/atomic.ts";
import { gitCommit } from "../metrics/git.ts";
import { type Baselines, readBaselines, updatedBaselines } from "./baselines_file.ts";
import { collectEvalResults, type EvalResult } from "./collect.ts";
import { type CheckRow, compareWithBaselines, type RunResults } from "./compare.ts";
import { checksToJUnit, checksToMarkdown, checksToText } from "./summary.ts";

const HELP = `usage: deno task regress [--update] [options]

Runs the CI experiment and fails (exit 1) when an accuracy falls below its baseline band or
ARB does not beat the random-init encoder by the stated margin.

  --update            run the "${"spread"}" profile (several seeds) and rewrite the baselines
  --experiment NAME   experiment to run (default: ci)
  --baselines FILE    baselines file (default: configs/baselines.yaml)
  --out DIR           where junit.xml and summary.md go (default: reports/regress)
  --jobs N            passed to reproduce`;

/** Entry point of the `regress` subcommand. */
export async function main(args: string[], env: CliEnv): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      update: { type: "boolean" },
      experiment: { type: "string", default: "ci" },
      baselines: { type: "string", default: `${env.root}/configs/baselines.yaml` },
      out: { type: "string", default: `${env.root}/reports/regress` },
      jobs: { type: "string", default: "1" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const t0 = performance.now();
  const profile = values.update ? "spread" : undefined;
  const exp = await openExperiment(values.experiment, profile, env);
  const baselines = values.update ? null : await readBaselines(values.baselines);
  if (baselines && baselines.experiment !== exp.name) {
    throw new UsageError(
      `${values.baselines} was recorded for experiment "${baselines.experiment}", not "${exp.name}"`,
    );
  }
  await Deno.mkdir(values.out, { recursive: true });
  const summaryPath = `${values.out}/run-summary.json`;
  const code = await reproduce([
    exp.file,
    ...(profile ? ["--profile", profile] : []),
    "--jobs",
    values.jobs,
    "--summary-json",
    summaryPath,
  ], env);
  const seconds = () => (performance.now() - t0) / 1000;
  if (code !== 0) {
    const row: CheckRow = {
      name: `reproduce ${exp.name}`,
      expected: 0,
      got: code,
      min: 0,
      tolerance: 0,
      status: "fail",
      note: `the experiment run failed with exit code ${code}: see the log above`,
    };
    await writeOutputs(values.out, "CI accuracy gate", [row], seconds());
    return code === 2 ? 2 : 1;
  }
  const { cache } = await openCache(env);
  const evals = await collectEvalResults(exp, summaryPath, cache);

  if (values.update) {
    const commit = (await gitCommit(env.root)) ?? "unknown";
    const previous = await readBaselines(values.baselines).catch(() => null);
    const next = updatedBaselines(exp, evals, commit, previous);
    await writeBaselines(values.baselines, next);
    console.log(`\nwrote ${values.baselines} from seeds ${next.seeds.join(", ")} at ${commit}`);
    for (const [method, m] of Object.entries(next.methods)) {
      console.log(
        `  ${method}: linear top-1 ${
          m.linear_top1.per_seed.join(" / ")
        } (tolerance ${m.linear_top1.tolerance}), ` +
          `kNN top-1 ${m.knn_top1.per_seed.join(" / ")} (tolerance ${m.knn_top1.tolerance})`,
      );
    }
    return 0;
  }

  const rows = compareWithBaselines(resultsByMethod(evals), baselines!);
  console.log(`\n${checksToText(rows)}`);
  await writeOutputs(values.out, "CI accuracy gate", rows, seconds());
  const failed = rows.filter((r) => r.status === "fail").length;
  console.log(
    failed
      ? `regress: FAIL: ${failed} of ${rows.length} checks (${values.out}/summary.md)`
      : `regress: PASS: ${rows.length} checks in ${seconds().toFixed(0)} s`,
  );
  return failed ? 1 : 0;
}

/** The gated metrics of one (single-seed) run per method; several seeds are averaged. */
export function resultsByMethod(evals: EvalResult[]): RunResults {
  const sums: Record<string, { linear: number[]; knn: number[] }> = {};
  for (const e of evals) {
    const s = sums[e.method] ??= { linear: [], knn: [] };
    if (Number.isFinite(e.results.linear_top1_final)) s.linear.push(e.results.linear_top1_final);
    if (Number.isFinite(e.results.knn_top1)) s.knn.push(e.results.knn_top1);
  }
  const mean = (xs: number[]) => xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined;
  return Object.fromEntries(
    Object.entries(sums).map((
      [m, s],
    ) => [m, { linear_top1: mean(s.linear), knn_top1: mean(s.knn) }]),
  );
}

async function writeOutputs(dir: string, title: string, rows: CheckRow[], seconds: number) {
  const md = checksToMarkdown(title, rows);
  await writeFileAtomic(`${dir}/summary.md`, md);
  await writeFileAtomic(`${dir}/junit.xml`, checksToJUnit("regress", rows, seconds));
  const step = Deno.env.get("GITHUB_STEP_SUMMARY");
  if (step) await Deno.writeTextFile(step, md, { append: true });
}

async function writeBaselines(path: string, b: Baselines): Promise<void> {
  const head = [
    "# CI accuracy baselines: written by `deno task regress --update`, never by a plain run.",
    "# expected = mean over the seeds of configs/ci.yaml's `spread` profile (accuracies in %);",
    "# a run fails below expected - tolerance, where tolerance = max(floor, sigmas x std).",
    "# linear_top1 is the final-epoch linear probe top-1; knn_top1 the weighted kNN top-1.",
    "",
  ].join("\n");
  await writeFileAtomic(path, head + stringify(b));
}
