/**
 * Caching, end to end with real `deno run main.ts reproduce` processes: a second run reuses
 * everything, a changed parameter re-runs exactly its stage and its dependants, a corrupted
 * entry is detected and re-run, and the lock file and JSON summary record what happened.
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import type { LockFile } from "../pipeline/lockfile.ts";
import { fourStageYaml, sandbox, statuses, takeRunLog } from "./pipeline_helpers.ts";

const ALL = [
  "data",
  "train[env.METHOD=arb]",
  "train[env.METHOD=bt]",
  "eval[env.METHOD=arb]",
  "eval[env.METHOD=bt]",
  "report",
];

Deno.test("first run runs everything, second run is all cached and runs no command", async () => {
  await using box = await sandbox(fourStageYaml());
  const runlog = `${box.dir}/runlog`;
  const summary = `${box.dir}/summary.json`;
  const first = await box.cli(["reproduce", "exp.yaml", "--summary-json", summary], {
    RUNLOG: runlog,
  });
  assertEquals(first.code, 0, first.stderr);
  assertEquals(Object.values(await statuses(summary)), ALL.map(() => "ran"));
  assertEquals(await takeRunLog(runlog), [
    "data",
    "eval",
    "eval",
    "report",
    "train-arb",
    "train-bt",
  ]);
  assertEquals((await box.objects()).length, 6);
  assertEquals(await box.tmpEntries(), []);

  const second = await box.cli(["reproduce", "exp.yaml", "--summary-json", summary], {
    RUNLOG: runlog,
  });
  assertEquals(second.code, 0, second.stderr);
  const s = JSON.parse(await Deno.readTextFile(summary));
  assertEquals(s.experiment, "four");
  assertEquals(s.profile, null);
  assertEquals(s.stages.map((x: { id: string }) => x.id), ALL);
  for (const st of s.stages) {
    assertEquals(st.status, "cached");
    assertEquals(st.kind, "command");
    assert(/^[0-9a-f]{64}$/.test(st.key), st.key);
    assert(typeof st.seconds === "number");
  }
  assertEquals(await takeRunLog(runlog), []);
  assertStringIncludes(second.stdout, "6 stage instance(s): 6 cached");

  // The report really gathered both evaluations, in instance order.
  const report = s.stages.find((x: { id: string }) => x.id === "report");
  assertEquals(
    await Deno.readTextFile(`${box.cache}/objects/${report.key}/report.txt`),
    "arb 10\nbt 10\n",
  );
});

Deno.test("a changed parameter re-runs exactly its stage and its dependants", async () => {
  await using box = await sandbox(fourStageYaml());
  const runlog = `${box.dir}/runlog`;
  const summary = `${box.dir}/summary.json`;
  assertEquals((await box.cli(["reproduce", "exp.yaml"], { RUNLOG: runlog })).code, 0);
  await takeRunLog(runlog);

  await box.write(fourStageYaml({ epochs: 3 }));
  const r = await box.cli(["reproduce", "exp.yaml", "--summary-json", summary], { RUNLOG: runlog });
  assertEquals(r.code, 0, r.stderr);
  assertEquals(await statuses(summary), {
    "data": "cached",
    "train[env.METHOD=arb]": "ran",
    "train[env.METHOD=bt]": "ran",
    "eval[env.METHOD=arb]": "ran",
    "eval[env.METHOD=bt]": "ran",
    "report": "ran",
  });
  assertEquals(await takeRunLog(runlog), ["eval", "eval", "report", "train-arb", "train-bt"]);

  // A new matrix value runs only the new branch and the stage that gathers.
  await box.write(fourStageYaml({ epochs: 3, methods: ["arb", "bt", "vicreg"] }));
  const r2 = await box.cli(["reproduce", "exp.yaml", "--summary-json", summary], {
    RUNLOG: runlog,
  });
  assertEquals(r2.code, 0, r2.stderr);
  assertEquals(await takeRunLog(runlog), ["eval", "report", "train-vicreg"]);

  // Back to the first parameters: everything is still in the cache.
  await box.write(fourStageYaml());
  const r3 = await box.cli(["reproduce", "exp.yaml", "--summary-json", summary], {
    RUNLOG: runlog,
  });
  assertEquals(r3.code, 0, r3.stderr);
  assertEquals(await takeRunLog(runlog), []);
});

Deno.test("a corrupted cache entry is detected, warned about and re-run", async () => {
  await using box = await sandbox(fourStageYaml());
  const summary = `${box.dir}/summary.json`;
  const runlog = `${box.dir}/runlog`;
  assertEquals((await box.cli(["reproduce", "exp.yaml", "--summary-json", summary])).code, 0);
  const keys = Object.fromEntries(
    JSON.parse(await Deno.readTextFile(summary)).stages.map((
      s: { id: string; key: string },
    ) => [s.id, s.key]),
  );
  const dataFile = `${box.cache}/objects/${keys.data}/data.txt`;
  await Deno.chmod(dataFile, 0o644);
  await Deno.writeTextFile(dataFile, "1\n2\n3\n4\n6\n"); // same size, other content

  const r = await box.cli(["reproduce", "exp.yaml", "--summary-json", summary], { RUNLOG: runlog });
  assertEquals(r.code, 0, r.stderr);
  assertStringIncludes(r.stderr, `warning: data: cache entry ${keys.data.slice(0, 12)} is corrupt`);
  assertStringIncludes(r.stderr, "digest mismatch: data.txt: sha256");
  assertEquals(await takeRunLog(runlog), ["data"]);
  // The re-run produced the same content, so nothing downstream had to run.
  assertEquals((await statuses(summary))["train[env.METHOD=arb]"], "cached");
  assertEquals(await Deno.readTextFile(dataFile), "1\n2\n3\n4\n5\n");

  // An extra file and a removed manifest are corruption too.
  const evalDir = `${box.cache}/objects/${keys["eval[env.METHOD=bt]"]}`;
  await Deno.writeTextFile(`${evalDir}/stray.txt`, "x");
  await Deno.remove(`${box.cache}/objects/${keys.report}/.manifest.json`);
  const r2 = await box.cli(["reproduce", "exp.yaml"], { RUNLOG: runlog });
  assertEquals(r2.code, 0, r2.stderr);
  assertStringIncludes(r2.stderr, "unexpected file stray.txt");
  assertStringIncludes(r2.stderr, ".manifest.json is missing");
  assertEquals(await takeRunLog(runlog), ["eval", "report"]);
});

Deno.test("the lock file records keys, params, upstream and output digests, timing and versions", async () => {
  await using box = await sandbox(fourStageYaml());
  const summary = `${box.dir}/summary.json`;
  assertEquals((await box.cli(["reproduce", "exp.yaml", "--summary-json", summary])).code, 0);
  const lock: LockFile = JSON.parse(await Deno.readTextFile(`${box.dir}/exp.lock.json`));
  assertEquals(lock.experiment, "four");
  assertEquals(Object.keys(lock.stages), ALL);
  const keys = Object.fromEntries(
    JSON.parse(await Deno.readTextFile(summary)).stages.map((
      s: { id: string; key: string },
    ) => [s.id, s.key]),
  );
  const train = lock.stages["train[env.METHOD=arb]"];
  assertEquals(train.key, keys["train[env.METHOD=arb]"]);
  assertEquals(train.params.env, { EPOCHS: 10, METHOD: "arb" });
  assertEquals(train.matrix, { "env.METHOD": "arb" });
  assertEquals(train.upstream, { data: lock.stages.data.output });
  assertEquals(lock.stages.report.upstream, {
    "eval[env.METHOD=arb]": lock.stages["eval[env.METHOD=arb]"].output,
    "eval[env.METHOD=bt]": lock.stages["eval[env.METHOD=bt]"].output,
  });
  const manifest = JSON.parse(
    await Deno.readTextFile(`${box.cache}/objects/${train.key}/.manifest.json`),
  );
  assertEquals(train.output, manifest.digest);
  assert(train.seconds >= 0 && !Number.isNaN(Date.parse(train.startedAt)));
  assertEquals(train.runtime.deno, Deno.version.deno);
  assertEquals(train.runtime.dependencies.zod, "3.25.76");

  // A fully cached run leaves the lock file untouched; a profile run writes its own.
  const before = await Deno.readTextFile(`${box.dir}/exp.lock.json`);
  assertEquals((await box.cli(["reproduce", "exp.yaml"])).code, 0);
  assertEquals(await Deno.readTextFile(`${box.dir}/exp.lock.json`), before);
  const p = await box.cli(["reproduce", "exp.yaml", "--profile", "smoke"]);
  assertEquals(p.code, 0, p.stderr);
  const smoke: LockFile = JSON.parse(await Deno.readTextFile(`${box.dir}/exp.smoke.lock.json`));
  assertEquals(smoke.profile, "smoke");
  assertEquals(smoke.stages["train[env.METHOD=bt]"].params.env, { EPOCHS: 1, METHOD: "bt" });
  assertEquals(await Deno.readTextFile(`${box.dir}/exp.lock.json`), before);
});

Deno.test("files named in deps are part of the key: a changed input re-runs, status says which", async () => {
  await using box = await sandbox(`name: deps
stages:
  use:
    uses: command
    with: { run: "wc -c < input.bin > $OUT/n.txt", outs: [n.txt], deps: [input.bin, inputs] }
`);
  await Deno.writeTextFile(`${box.dir}/input.bin`, "12345");
  await Deno.mkdir(`${box.dir}/inputs`);
  await Deno.writeTextFile(`${box.dir}/inputs/a.txt`, "a");
  const summary = `${box.dir}/s.json`;
  const run = () => box.cli(["reproduce", "exp.yaml", "--summary-json", summary]);
  assertEquals((await run()).code, 0);
  assertEquals((await statuses(summary)).use, "ran");
  assertEquals((await run()).code, 0);
  assertEquals((await statuses(summary)).use, "cached");

  await Deno.writeTextFile(`${box.dir}/inputs/a.txt`, "b");
  const s = await box.cli(["status", "exp.yaml"]);
  assertStringIncludes(s.stdout, "input deps.inputs: ");
  assert(!s.stdout.includes("deps.input.bin"), s.stdout);
  assertEquals((await run()).code, 0);
  assertEquals((await statuses(summary)).use, "ran");

  await Deno.remove(`${box.dir}/input.bin`);
  const r = await run();
  assertEquals(r.code, 1);
  assertStringIncludes(r.stdout, "cannot compute its cache key: dependency input.bin not found");
});
