/**
 * Experiment loading: structure and parameter validation with file:line:column, profiles,
 * matrix expansion with fan-out and gather. In-process (real files in a temp folder), plus
 * one real CLI run to see the message and exit code a user gets.
 */
import { z } from "zod";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "./assert.ts";
import { SpecError, UsageError } from "../pipeline/errors.ts";
import { loadExperiment } from "../pipeline/experiment.ts";
import type { StageKind, StageRegistry } from "../pipeline/types.ts";
import { registry } from "../stages/registry.ts";
import { sandbox } from "./pipeline_helpers.ts";

const toy: StageKind = {
  name: "toy",
  version: "1",
  description: "a kind with a typed schema, for validation tests",
  schema: z.object({
    epochs: z.number().int().default(1),
    method: z.enum(["arb", "barlow_twins"]).default("arb"),
    opt: z.object({ lr: z.number(), wd: z.number().default(0) }).strict().default({ lr: 0.1 }),
  }).strict(),
  run: () => Promise.resolve(),
};
const testRegistry: StageRegistry = { ...registry, toy: () => Promise.resolve(toy) };

async function load(yaml: string, profile: string | null = null) {
  await using box = await sandbox(yaml);
  return await loadExperiment(box.file, {
    configsDir: `${box.dir}/configs`,
    registry: testRegistry,
    profile,
  });
}

async function problems(yaml: string, profile: string | null = null): Promise<string> {
  const e = await assertRejects(() => load(yaml, profile));
  assert(e instanceof SpecError, `expected a SpecError, got ${e}`);
  return e.message;
}

Deno.test("matrix expands with sorted keys, fans out downstream, gather sees all", async () => {
  const exp = await load(`name: m
stages:
  data: { uses: toy }
  train:
    uses: toy
    needs: [data]
    matrix: { method: [arb, barlow_twins], opt.lr: [0.5] }
    with: { epochs: 3 }
  eval: { uses: toy, needs: [train] }
  report: { uses: toy, needs: [eval, data], gather: true }
`);
  assertEquals(exp.instances.map((i) => i.id), [
    "data",
    "train[method=arb,opt.lr=0.5]",
    "train[method=barlow_twins,opt.lr=0.5]",
    "eval[method=arb,opt.lr=0.5]",
    "eval[method=barlow_twins,opt.lr=0.5]",
    "report",
  ]);
  const t = exp.byId.get("train[method=barlow_twins,opt.lr=0.5]")!;
  assertEquals(t.params, { epochs: 3, method: "barlow_twins", opt: { lr: 0.5, wd: 0 } });
  const e = exp.byId.get("eval[method=barlow_twins,opt.lr=0.5]")!;
  assertEquals(e.inputs, [{ need: "train", ids: ["train[method=barlow_twins,opt.lr=0.5]"] }]);
  assertEquals(e.params, { epochs: 1, method: "arb", opt: { lr: 0.1, wd: 0 } });
  const r = exp.byId.get("report")!;
  assertEquals(r.inputs, [
    { need: "eval", ids: ["eval[method=arb,opt.lr=0.5]", "eval[method=barlow_twins,opt.lr=0.5]"] },
    { need: "data", ids: ["data"] },
  ]);
  assertEquals(exp.lockFile.endsWith("/exp.lock.json"), true);
});

Deno.test("two matrix needs are joined on their shared key; own axes multiply", async () => {
  const exp = await load(`name: j
stages:
  a: { uses: toy, matrix: { method: [arb, barlow_twins] } }
  b: { uses: toy, matrix: { method: [arb, barlow_twins] } }
  c: { uses: toy, needs: [a, b], matrix: { epochs: [1, 2] } }
`);
  assertEquals(exp.instances.filter((i) => i.stage === "c").map((i) => i.id), [
    "c[epochs=1,method=arb]",
    "c[epochs=2,method=arb]",
    "c[epochs=1,method=barlow_twins]",
    "c[epochs=2,method=barlow_twins]",
  ]);
  assertEquals(exp.byId.get("c[epochs=2,method=arb]")!.upstream, [
    "a[method=arb]",
    "b[method=arb]",
  ]);
});

Deno.test("a profile deep-merges over the stages and picks its own lock file", async () => {
  const yaml = `name: p
profiles:
  smoke: { stages: { train: { with: { opt: { wd: 0.5 } } } } }
stages:
  train: { uses: toy, with: { epochs: 7, opt: { lr: 0.2 } } }
`;
  const exp = await load(yaml, "smoke");
  assertEquals(exp.byId.get("train")!.params, {
    epochs: 7,
    method: "arb",
    opt: { lr: 0.2, wd: 0.5 },
  });
  assert(exp.lockFile.endsWith("/exp.smoke.lock.json"), exp.lockFile);
});

Deno.test("unknown stage kind is reported at its uses with the known kinds", async () => {
  const msg = await problems(`name: k
stages:
  data:
    uses: fetch_datset
`);
  assertStringIncludes(msg, 'exp.yaml:4:11: stage "data" uses unknown kind "fetch_datset"');
  assertStringIncludes(msg, `(known kinds: ${Object.keys(testRegistry).sort().join(", ")})`);
  assertStringIncludes(msg, "command, ");
});

Deno.test("unknown needs is reported at the entry that names it", async () => {
  const msg = await problems(`name: n
stages:
  a: { uses: toy }
  b: { uses: toy, needs: [a, nope] }
`);
  assertStringIncludes(msg, 'exp.yaml:4:30: stage "b" needs unknown stage "nope" (stages: a, b)');
});

Deno.test("a cycle in needs is printed in full", async () => {
  const msg = await problems(`name: c
stages:
  a: { uses: toy, needs: [c] }
  b: { uses: toy, needs: [a] }
  c: { uses: toy, needs: [b] }
  d: { uses: toy, needs: [d] }
`);
  assertStringIncludes(msg, "exp.yaml:4:27: cycle in needs: a -> c -> b -> a");
  assertStringIncludes(msg, "exp.yaml:6:27: cycle in needs: d -> d");
});

Deno.test("duplicate stage ids point at the second definition", async () => {
  const msg = await problems(`name: d
stages:
  train: { uses: toy }
  eval: { uses: toy }
  train: { uses: toy, with: { epochs: 2 } }
`);
  assertStringIncludes(msg, 'exp.yaml:5:3: duplicate stage id "train" (first defined at line 3)');
});

Deno.test("a parameter of the wrong type is reported at its value", async () => {
  const msg = await problems(`name: t
stages:
  train:
    uses: toy
    with:
      epochs: ten
`);
  assertStringIncludes(
    msg,
    'exp.yaml:6:15: stage "train": parameter "with.epochs": expected number, got string',
  );
});

Deno.test("an unknown parameter is reported at its key with the known ones", async () => {
  const msg = await problems(`name: u
stages:
  train:
    uses: toy
    with: { epochs: 2, opt: { lr: 1, momentum: 0.9 } }
`);
  assertStringIncludes(
    msg,
    'exp.yaml:5:38: stage "train": unknown parameter "with.opt.momentum" for kind "toy" (known: lr, wd)',
  );
});

Deno.test("a bad matrix value is reported at that value; a bad override in its profile", async () => {
  const msg = await problems(`name: mv
stages:
  train:
    uses: toy
    matrix:
      method: [arb, simclr]
`);
  assertStringIncludes(
    msg,
    'exp.yaml:6:21: stage "train": parameter "with.method": Invalid enum value',
  );
  const msg2 = await problems(
    `name: pv
profiles:
  smoke:
    stages:
      train: { with: { epochs: 1.5 } }
stages:
  train: { uses: toy, with: { epochs: 3 } }
`,
    "smoke",
  );
  assertStringIncludes(msg2, 'exp.yaml:5:32: stage "train": parameter "with.epochs"');
});

Deno.test("unknown profile lists the known ones; unknown stage fields are named", async () => {
  const msg = await problems(
    `name: up
profiles:
  smoke: { stages: {} }
stages:
  train: { uses: toy }
`,
    "fast",
  );
  assertStringIncludes(msg, 'exp.yaml:2:1: unknown profile "fast" (known: smoke)');
  const msg2 = await problems(`name: f
stages:
  train: { uses: toy, need: [x] }
`);
  assertStringIncludes(msg2, 'exp.yaml:3:23: stage "train": unknown field "need"');
});

Deno.test("YAML syntax errors and missing fields carry positions", async () => {
  const msg = await problems(`name: s
stages:
  train: { uses: toy
`);
  assertStringIncludes(msg, "exp.yaml:4:1: YAML syntax error: Flow map");
  const msg2 = await problems(`name: s
stages:
  train: { with: {} }
`);
  assertStringIncludes(msg2, 'exp.yaml:3:10: stage "train": field "uses": missing required field');
});

Deno.test("a missing experiment names the experiments found in configs/", async () => {
  await using box = await sandbox();
  await Deno.mkdir(`${box.dir}/configs`);
  await Deno.writeTextFile(`${box.dir}/configs/cifar100.yaml`, "name: x\nstages: {}\n");
  await Deno.writeTextFile(`${box.dir}/configs/fashion-mnist.yml`, "name: y\nstages: {}\n");
  const e = await assertRejects(() =>
    loadExperiment("cifar10", { configsDir: `${box.dir}/configs`, registry, profile: null })
  );
  assert(e instanceof UsageError);
  assertStringIncludes(e.message, 'experiment "cifar10" not found');
  assertStringIncludes(e.message, "cifar100, fashion-mnist");
});

Deno.test("CLI: a bad experiment exits 2 with every problem and its position", async () => {
  await using box = await sandbox(`name: cli
stages:
  a: { uses: command, with: { run: 42, outz: [] } }
`);
  const r = await box.cli(["reproduce", "exp.yaml"]);
  assertEquals(r.code, 2);
  assertStringIncludes(
    r.stderr,
    'exp.yaml:3:36: stage "a": parameter "with.run": expected string, got number',
  );
  assertStringIncludes(
    r.stderr,
    'exp.yaml:3:40: stage "a": unknown parameter "with.outz" for kind "command"',
  );
  assertStringIncludes(r.stderr, "(known: deps, env, outs, run)");
  assertEquals(await box.objects(), []);
});
