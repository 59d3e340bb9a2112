/**
 * configs/paper-table.yaml, profile `smoke`, end to end as a user runs it: a real
 * `deno run -A main.ts reproduce` process on CIFAR-10 and CIFAR-100 archives built here in the
 * exact binary layout (tests/data_fixtures.ts). The data stages read them as local `sources`
 * checked against their `sha256` (a derived experiment file in a temporary folder overrides
 * just that and the report's output folder), with a private cache and metrics database.
 *
 * Checks: all 27 instances run (2 datasets, 12 pretrain, 12 linear_eval, 1 report), a second
 * run is fully cached, and the report's summary.json and table.md hold all 12 (method,
 * dataset) cells with finite numbers next to the paper's. The numbers themselves mean
 * nothing (random pixels, one tiny epoch).
 */
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { cifar100Archive, cifar10Archive, tempDir } from "./data_fixtures.ts";
import { sha256Hex } from "../pipeline/canonical.ts";
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const METHODS = ["vicreg", "swav", "wmse", "simclr", "barlow_twins", "arb"];
const DATASETS = ["cifar10", "cifar100"];

interface RunSummary {
  stages: { id: string; kind: string; status: string; seconds: number }[];
}

/** Runs `main.ts reproduce` to completion; returns its summary and wall time. */
async function reproduce(dir: string, file: string, tag: string) {
  const summaryFile = join(dir, `${tag}.json`);
  const started = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "main.ts"), "reproduce", file, "--profile", "smoke"].concat(
      ["--summary-json", summaryFile],
    ),
    cwd: dir,
    env: {
      ARB_CACHE_DIR: join(dir, "cache"),
      ARB_METRICS_DB: join(dir, "metrics.duckdb"),
      NO_COLOR: "1",
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - started) / 1000;
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 0, `reproduce (${tag}) failed:\n${text}`);
  const summary = JSON.parse(await Deno.readTextFile(summaryFile)) as RunSummary;
  return { summary, seconds, text };
}

Deno.test("paper-table smoke: the whole 6 x 2 matrix runs, re-runs from the cache, and reports every cell", async () => {
  await using tmp = await tempDir("arb-paper-table-");
  const dir = tmp.dir;
  // CIFAR archives in the published binary layout: 300 train and 250 test images each (the smoke
  // profile keeps 256 and 200 of them).
  const archives = {
    cifar10: await cifar10Archive(60, 250, 7),
    cifar100: await cifar100Archive(300, 250, 8),
  };
  const spec = parse(await Deno.readTextFile(join(ROOT, "configs/paper-table.yaml")));
  for (const name of DATASETS) {
    const bytes = archives[name as keyof typeof archives].tarGz;
    const path = join(dir, `${name}-fixture.tar.gz`);
    await Deno.writeFile(path, bytes);
    spec.stages[name].with = {
      ...spec.stages[name].with,
      sources: [path],
      sha256: await sha256Hex(bytes),
    };
  }
  spec.stages.report.with = { out: join(dir, "reports") };
  const file = join(dir, "paper-table.yaml");
  await Deno.writeTextFile(file, stringify(spec));

  const first = await reproduce(dir, file, "first");
  const ran = first.summary.stages;
  assertEquals(ran.length, 27, first.text);
  assert(
    ran.every((s) => s.status === "ran"),
    JSON.stringify(ran.filter((s) => s.status !== "ran")),
  );
  for (const kind of ["pretrain", "linear_eval"]) {
    assertEquals(ran.filter((s) => s.kind === kind).length, 12, `${kind} instances`);
  }
  const perMethod = METHODS.map((m) => {
    const secs = ran.filter((s) => s.id.includes(`[recipe=${m}]`)).map((s) => s.seconds);
    return `${m} ${secs.reduce((a, b) => a + b, 0).toFixed(1)} s`;
  });
  console.log(
    `paper-table smoke: first run ${
      first.seconds.toFixed(1)
    } s (per method, pretrain + linear on ` +
      `both datasets: ${perMethod.join(", ")})`,
  );

  const second = await reproduce(dir, file, "second");
  assert(
    second.summary.stages.every((s) => s.status === "cached"),
    JSON.stringify(second.summary.stages.filter((s) => s.status !== "cached")),
  );
  console.log(`paper-table smoke: fully cached re-run ${second.seconds.toFixed(1)} s`);

  const report = join(dir, "reports", "paper-table");
  const summary = JSON.parse(await Deno.readTextFile(join(report, "summary.json")));
  const paper = parse(await Deno.readTextFile(join(ROOT, "configs/paper.yaml")));
  const table = await Deno.readTextFile(join(report, "table.md"));
  assertEquals(summary.profile, "smoke");
  for (const method of METHODS) {
    for (const dataset of DATASETS) {
      const cell = `${method} x ${dataset}`;
      const e = summary.entries.find((x: { method: string; dataset: string }) =>
        x.method === method && x.dataset === dataset
      );
      assert(e, `${cell} missing from summary.json`);
      for (const which of ["best", "final", "knn"]) {
        for (const k of ["top1", "top5"]) {
          const v = e[which]?.[k];
          assert(Number.isFinite(v) && v >= 0 && v <= 100, `${cell} ${which}.${k} = ${v}`);
        }
      }
      const want = paper.table[method][dataset];
      assertEquals([e.paper.top1, e.paper.top5], [want.top1, want.top5], `${cell} paper numbers`);
      assert(Number.isFinite(e.deltaTop1.value), `${cell} delta`);
    }
    // table.md: one row per method with the paper's figures for both datasets beside ours.
    const label = paper.methods[method];
    const row = table.split("\n").find((l) => l.startsWith(`| ${label} |`));
    assert(row, `table.md has no row for ${label}:\n${table}`);
    for (const dataset of DATASETS) {
      const p = paper.table[method][dataset];
      assertStringIncludes(row, `${p.top1.toFixed(2)} (${p.top5.toFixed(2)})`);
    }
    // Every cell of ours is a number: no em dash anywhere in the row.
    assert(!row.includes("—"), `${label}: a missing number in\n${row}`);
  }
  for (const f of ["index.html", "table.svg", "table.png", "curves.svg", "curves.png"]) {
    assert((await Deno.stat(join(report, f))).size > 0, `${f} written`);
  }
});
