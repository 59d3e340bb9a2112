/**
 * Run control with real processes: failure propagation and the summary table, `--jobs`
 * concurrency, `--only`, `--until`, `--force`, `--dry-run`, progress lines, and `status`
 * explaining why each stage would run.
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { fourStageYaml, sandbox, statuses, takeRunLog } from "./pipeline_helpers.ts";

Deno.test("a failure skips its dependants, independent stages finish, exit 1 with a table", async () => {
  await using box = await sandbox(`name: fail
stages:
  bad: { uses: command, with: { run: "echo oops >&2; exit 3" } }
  child: { uses: command, needs: [bad], with: { run: "true" } }
  grandchild: { uses: command, needs: [child], with: { run: "true" } }
  good: { uses: command, with: { run: "sleep 0.3; echo ok > $OUT/ok.txt", outs: [ok.txt] } }
  after_good: { uses: command, needs: [good], with: { run: "true" } }
  missing_out: { uses: command, with: { run: "true", outs: [never.txt] } }
`);
  const summary = `${box.dir}/s.json`;
  const r = await box.cli(["reproduce", "exp.yaml", "--jobs", "2", "--summary-json", summary]);
  assertEquals(r.code, 1, r.stderr);
  assertEquals(await statuses(summary), {
    bad: "failed",
    child: "skipped",
    grandchild: "skipped",
    good: "ran",
    after_good: "ran",
    missing_out: "failed",
  });
  assertStringIncludes(r.stderr, "[bad] oops");
  assertStringIncludes(r.stderr, "FAILED  bad: command exited with code 3");
  const table = r.stdout.split("\n");
  assert(/^stage\s+status\s+seconds\s+key$/.test(table[0]), table[0]);
  assert(
    /^bad\s+failed\s+\d+\.\d\d\s+[0-9a-f]{12}\s+command exited with code 3$/.test(table[1]),
    table[1],
  );
  assert(/^child\s+skipped\s+0\.00\s+-\s+upstream bad failed$/.test(table[2]), table[2]);
  assert(
    /^grandchild\s+skipped\s+0\.00\s+-\s+upstream child was skipped$/.test(table[3]),
    table[3],
  );
  assertStringIncludes(r.stdout, 'declared output "never.txt" was not created in $OUT');
  assertStringIncludes(r.stdout, "6 stage instance(s): 2 ran, 2 failed, 2 skipped");
  assertEquals((await box.objects()).length, 2, "only the successful stages are committed");
  assertEquals(await box.tmpEntries(), []);
});

Deno.test("--jobs runs independent stages concurrently; --jobs 1 one at a time", async () => {
  const yaml = `name: par
stages:
  a: { uses: command, with: { run: "date +%s%N > $MARKS/a.start; sleep 0.6; date +%s%N > $MARKS/a.end" } }
  b: { uses: command, with: { run: "date +%s%N > $MARKS/b.start; sleep 0.6; date +%s%N > $MARKS/b.end" } }
`;
  for (const jobs of [2, 1]) {
    await using box = await sandbox(yaml);
    const marks = `${box.dir}/marks`;
    await Deno.mkdir(marks);
    const r = await box.cli(
      ["reproduce", "exp.yaml", "--jobs", String(jobs), "--summary-json", "summary.json"],
      { MARKS: marks },
    );
    assertEquals(r.code, 0, r.stderr);
    const t = async (n: string) => BigInt((await Deno.readTextFile(`${marks}/${n}`)).trim());
    const overlap = (await t("a.start")) < (await t("b.end")) &&
      (await t("b.start")) < (await t("a.end"));
    assertEquals(overlap, jobs === 2, `jobs ${jobs}`);
    // Each stage's seconds are its own run time, not time spent queued behind the other.
    const summary = JSON.parse(await Deno.readTextFile(`${box.dir}/summary.json`));
    for (const s of summary.stages) {
      assert(s.seconds >= 0.6 && s.seconds < 1.15, `jobs ${jobs}: ${s.id} took ${s.seconds} s`);
    }
  }
});

Deno.test("--only, --until, --force and --dry-run select what runs", async () => {
  await using box = await sandbox(fourStageYaml());
  const runlog = `${box.dir}/runlog`;
  const summary = `${box.dir}/s.json`;
  const run = (...args: string[]) =>
    box.cli(["reproduce", "exp.yaml", "--summary-json", summary, ...args], { RUNLOG: runlog });

  // --only on a stage whose input is not cached yet: it cannot run.
  let r = await run("--only", "eval");
  assertEquals(r.code, 1);
  assertEquals((await statuses(summary))["eval[env.METHOD=arb]"], "skipped");
  assertStringIncludes(r.stdout, "not selected (--only) and its output is not in the cache");
  assertEquals(await takeRunLog(runlog), []);

  // --until an instance runs it and what it needs, nothing else.
  r = await run("--until", "train[env.METHOD=bt]");
  assertEquals(r.code, 0, r.stderr);
  assertEquals(await takeRunLog(runlog), ["data", "train-bt"]);
  assertEquals(Object.keys(await statuses(summary)), ["data", "train[env.METHOD=bt]"]);

  // --dry-run says what a full run would do, and runs nothing.
  r = await run("--dry-run");
  assertEquals(r.code, 0, r.stderr);
  assertStringIncludes(r.stdout, "cached  data");
  assert(
    /run +train\[env\.METHOD=arb\] +never ran \(no record in exp\.lock\.json\)/.test(r.stdout),
    r.stdout,
  );
  assert(/run +eval\[env\.METHOD=arb\] +upstream train\[env\.METHOD=arb\] will run/.test(r.stdout));
  assert(/run +eval\[env\.METHOD=bt\] +never ran/.test(r.stdout), r.stdout);
  assertStringIncludes(r.stdout, "4 of 6 stage instance(s) would run.");
  assertEquals(await takeRunLog(runlog), []);

  // --only with cached inputs runs just that stage.
  r = await run("--only", "eval[env.METHOD=bt]");
  assertEquals(r.code, 0, r.stderr);
  assertEquals(await takeRunLog(runlog), ["eval"]);

  // Full run, then --force=ID re-runs that stage only (same output: dependants stay cached).
  assertEquals((await run()).code, 0);
  assertEquals(await takeRunLog(runlog), ["eval", "report", "train-arb"]);
  r = await run("--force=data");
  assertEquals(r.code, 0, r.stderr);
  assertEquals(await takeRunLog(runlog), ["data"]);
  assertEquals((await statuses(summary)).data, "ran");
  assertEquals((await statuses(summary))["train[env.METHOD=arb]"], "cached");

  // --force alone re-runs every selected stage; with --until only those.
  r = await run("--until", "train", "--force");
  assertEquals(await takeRunLog(runlog), ["data", "train-arb", "train-bt"]);
  r = await run("--force", "--dry-run", "--only", "report");
  assert(/run +report +forced \(--force\)/.test(r.stdout), r.stdout);

  // Bad selections are usage errors.
  r = await run("--only", "nope");
  assertEquals(r.code, 2);
  assertStringIncludes(r.stderr, 'no stage or stage instance "nope"');
  r = await run("--jobs", "0");
  assertEquals(r.code, 2);
  assertStringIncludes(r.stderr, "--jobs must be a whole number of at least 1");
  r = await run("--only", "data", "--until", "eval");
  assertStringIncludes(r.stderr, "use either --only or --until");
});

Deno.test("status explains why each stage would run", async () => {
  await using box = await sandbox(fourStageYaml());
  assertEquals((await box.cli(["reproduce", "exp.yaml"])).code, 0);
  let s = await box.cli(["status", "exp.yaml"]);
  assertEquals(s.code, 0, s.stderr);
  assertStringIncludes(s.stdout, "0 of 6 stage instance(s) would run.");
  assert(/cached +report +up to date/.test(s.stdout), s.stdout);

  await box.write(fourStageYaml({ epochs: 4 }));
  s = await box.cli(["status", "exp.yaml"]);
  assert(/cached +data +up to date/.test(s.stdout), s.stdout);
  assert(/run +train\[env\.METHOD=arb\] +param env\.EPOCHS: 10 -> 4/.test(s.stdout), s.stdout);
  assert(/run +eval\[env\.METHOD=bt\] +upstream train\[env\.METHOD=bt\] will run/.test(s.stdout));
  assertStringIncludes(s.stdout, "5 of 6 stage instance(s) would run.");

  // After running with epochs 4, restore 10: stages are cached (from the earlier run).
  assertEquals((await box.cli(["reproduce", "exp.yaml"])).code, 0);
  await box.write(fourStageYaml());
  s = await box.cli(["status", "exp.yaml"]);
  assert(
    /cached +train\[env\.METHOD=arb\] +an earlier output with these exact inputs/.test(s.stdout),
  );

  s = await box.cli(["status", "exp.yaml", "--profile", "smoke"]);
  assert(
    /run +train\[env\.METHOD=bt\] +param env\.EPOCHS: 4 -> 1 \(vs exp\.lock\.json\)/.test(s.stdout),
    s.stdout,
  );
  // Output of an upstream changed (data), key of a removed cache entry, profile explanations.
  await box.write(fourStageYaml().replace("seq 1 5", "seq 1 6"));
  s = await box.cli(["status", "exp.yaml"]);
  assert(/run +data +param run: /.test(s.stdout), s.stdout);
  await box.write(fourStageYaml({ epochs: 4 }));
  await Deno.remove(`${box.cache}/objects`, { recursive: true });
  s = await box.cli(["status", "exp.yaml"]);
  assert(/run +data +its output \(key [0-9a-f]{12}\) is not in the cache/.test(s.stdout), s.stdout);
  s = await box.cli(["status", "exp.yaml", "--profile", "nope"]);
  assertEquals(s.code, 2);
  assertStringIncludes(s.stderr, 'exp.yaml:3:1: unknown profile "nope" (known: smoke)');
});

Deno.test("an upstream whose output changed is named; a kind's code version is in the key", async () => {
  await using box = await sandbox(fourStageYaml());
  assertEquals((await box.cli(["reproduce", "exp.yaml"])).code, 0);
  // Corrupt the lock file's record of one upstream digest: status names that upstream.
  const lockPath = `${box.dir}/exp.lock.json`;
  const lock = JSON.parse(await Deno.readTextFile(lockPath));
  lock.stages["eval[env.METHOD=arb]"].upstream["train[env.METHOD=arb]"] = "0".repeat(64);
  lock.stages["eval[env.METHOD=arb]"].kindVersion = "0";
  await Deno.writeTextFile(lockPath, JSON.stringify(lock));
  await Deno.remove(`${box.cache}/objects/${lock.stages["eval[env.METHOD=arb]"].key}`, {
    recursive: true,
  });
  const s = await box.cli(["status", "exp.yaml"]);
  assertStringIncludes(s.stdout, "code version of kind command changed: 0 -> 1");
  assertStringIncludes(s.stdout, "upstream train[env.METHOD=arb] output changed: 000000000000 -> ");
});

Deno.test("progress is printed as periodic plain lines when stderr is not a terminal", async () => {
  await using box = await sandbox(`name: prog
stages:
  long:
    uses: command
    with:
      run: for i in 1 2 3 4; do echo "::progress $i/4 loss 0.$i"; sleep 0.15; done
`);
  const r = await box.cli(["reproduce", "exp.yaml"], { ARB_PROGRESS_INTERVAL: "0.1" });
  assertEquals(r.code, 0, r.stderr);
  const lines = r.stderr.split("\n").filter((l) => l.startsWith("progress long: "));
  assert(lines.length >= 2, r.stderr);
  assert(/^progress long: \d\/4 \(\d+%\)/.test(lines[0]), lines[0]);
  assert(lines.some((l) => /step\/s ETA \d+s loss 0\.\d$/.test(l)), lines.join("\n"));
  assert(!r.stderr.includes("::progress"), "progress lines are not echoed as log lines");
});
