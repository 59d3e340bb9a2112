/**
 * `main.ts regress` end to end on the real engine: `command` stages stand in for linear_eval
 * (they write the same `results.json` / `run.json`), reading their numbers from a scores file
 * that is hashed into their cache keys, so a test can make a method regress.
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { sandbox } from "./pipeline_helpers.ts";
import { parse } from "yaml";

const YAML = `name: gate
profiles:
  spread:
    stages:
      eval: { matrix: { env.METHOD: [arb, random_init], env.SEED: [1, 2, 3] } }
stages:
  eval:
    uses: command
    matrix: { env.METHOD: [arb, random_init], env.SEED: [1] }
    with:
      deps: [scores.txt]
      run: |
        read -r lin knn < <(awk -v m="$METHOD" -v s="$SEED" '$1 == m && $2 == s { print $3, $4 }' "$PWD_ROOT/scores.txt")
        echo "{\\"linear_top1_final\\": $lin, \\"knn_top1\\": $knn}" > $OUT/results.json
        echo "{\\"method\\": \\"$METHOD\\", \\"seed\\": $SEED}" > $OUT/run.json
`;

const SCORES = `arb 1 80 70
arb 2 81 71
arb 3 82 72
random_init 1 50 60
random_init 2 51 60.5
random_init 3 52 61
`;

Deno.test("regress: --update records a 3-seed spread; a plain run passes, a drop fails with a table and JUnit", async () => {
  await using box = await sandbox(YAML);
  await Deno.writeTextFile(`${box.dir}/scores.txt`, SCORES);
  const env = { PWD_ROOT: box.dir };
  const args = ["--experiment", "exp.yaml", "--baselines", "baselines.yaml", "--out", "out"];

  const missing = await box.cli(["regress", ...args], env);
  assertEquals(missing.code, 2, missing.stderr);
  assertStringIncludes(missing.stderr, "regress --update");

  const up = await box.cli(["regress", "--update", ...args], env);
  assertEquals(up.code, 0, up.stderr);
  const b = parse(await Deno.readTextFile(`${box.dir}/baselines.yaml`));
  assertEquals(b.seeds, [1, 2, 3]);
  assertEquals(b.methods.arb.linear_top1.per_seed, [80, 81, 82]);
  assertEquals(b.methods.arb.linear_top1.expected, 81);
  assertEquals(b.methods.arb.linear_top1.tolerance, 3); // 3 sigma, sigma = 1
  assertEquals(b.methods.random_init.knn_top1.tolerance, 1.5);

  const ok = await box.cli(["regress", ...args], env);
  assertEquals(ok.code, 0, ok.stderr + ok.stdout);
  assertStringIncludes(ok.stdout, "regress: PASS");
  assertStringIncludes(await Deno.readTextFile(`${box.dir}/out/junit.xml`), 'failures="0"');

  // ARB's seed-1 linear accuracy drops from 80 to 77 (< 81 - 3): the gate fails.
  await Deno.writeTextFile(`${box.dir}/scores.txt`, SCORES.replace("arb 1 80 70", "arb 1 77 70"));
  const bad = await box.cli(["regress", ...args], env);
  assertEquals(bad.code, 1, bad.stderr + bad.stdout);
  assertStringIncludes(bad.stdout, "arb linear_top1");
  assertStringIncludes(bad.stdout, "below the band by 1.00");
  const junit = await Deno.readTextFile(`${box.dir}/out/junit.xml`);
  assertStringIncludes(junit, 'failures="1"');
  assertStringIncludes(junit, 'name="arb linear_top1"');
  const md = await Deno.readTextFile(`${box.dir}/out/summary.md`);
  assertStringIncludes(md, "FAIL (1 of");
  // The baselines are never rewritten by a plain run.
  assertEquals(parse(await Deno.readTextFile(`${box.dir}/baselines.yaml`)), b);
});

Deno.test("regress: a baselines file with a wrong field is refused, naming the file and field", async () => {
  await using box = await sandbox(YAML);
  await Deno.writeTextFile(`${box.dir}/scores.txt`, SCORES);
  await Deno.writeTextFile(
    `${box.dir}/baselines.yaml`,
    "experiment: gate\nprofile: null\ncommit: x\nupdated: y\nseeds: [1, 2]\nsigmas: 3\nfloor: 0.5\nmethods: {}\nmargins: []\n",
  );
  const r = await box.cli(["regress", "--experiment", "exp.yaml", "--baselines", "baselines.yaml"]);
  assertEquals(r.code, 2);
  assertStringIncludes(r.stderr, "baselines.yaml is not a valid baselines file");
  assertStringIncludes(r.stderr, "seeds: at least 3 seeds");
  assertEquals(await box.objects(), [], "nothing ran");
});

Deno.test("regress --update refuses fewer than 3 seeds per method", async () => {
  await using box = await sandbox(YAML.replace("env.SEED: [1, 2, 3]", "env.SEED: [1, 2]"));
  await Deno.writeTextFile(`${box.dir}/scores.txt`, SCORES);
  const r = await box.cli(
    ["regress", "--update", "--experiment", "exp.yaml", "--baselines", "b.yaml", "--out", "out"],
    { PWD_ROOT: box.dir },
  );
  assertEquals(r.code, 2, r.stderr);
  assertStringIncludes(r.stderr, "at least 3 seeds per method");
  assert(!(await Deno.stat(`${box.dir}/b.yaml`).catch(() => null)), "no baselines written");
});
