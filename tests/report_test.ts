/**
 * The report, end to end on real files: runs recorded into a real DuckDB file, the report
 * folder rendered from it, the Markdown checked against DuckDB, the PNGs decoded, and the
 * HTML opened in headless Chromium.
 */
import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertStringIncludes,
  assertThrows,
} from "./assert.ts";
import { decodePng, nonBackgroundFraction } from "./png.ts";
import { findChromium, HeadlessPage } from "./chromium.ts";
import { Rng } from "../arb/rng.ts";
import { MetricsDb } from "../metrics/db.ts";
import { openRecorder } from "../metrics/recorder.ts";
import { loadReportData } from "../reports/data.ts";
import { loadPaperTable, parsePaperTable } from "../reports/paper.ts";
import { svgSize } from "../reports/render.ts";
import { PNG_SCALE, REPORT_FILES, writeReport } from "../reports/write.ts";

const EXPERIMENT = "report-fixture";
const METHODS = ["arb", "barlow_twins", "random_init"];

/** Records a small experiment (pretrain + linear_eval runs) and renders its report once. */
const fixture = (async () => {
  const tmp = await Deno.makeTempDir({ prefix: "arb-report-" });
  const dbPath = `${tmp}/metrics.duckdb`;
  const rng = new Rng(7);
  const keys: Record<string, string> = {};
  for (const method of METHODS) {
    if (method !== "random_init") {
      const dir = `${tmp}/objects/pre-${method}`;
      await Deno.mkdir(dir, { recursive: true });
      const rec = await openRecorder(dir, {
        run: `pre-${method}`,
        experiment: EXPERIMENT,
        profile: null,
        stageId: `train[method=${method}]`,
        kind: "pretrain",
        method,
        dataset: "cifar100",
        params: { epochs: 4 },
        backend: "wasm",
        device: "cpu",
        gitCommit: "0123456789abcdef",
      }, { dbPath });
      for (let epoch = 0; epoch < 4; epoch++) {
        for (let step = 0; step < 3; step++) {
          rec.log("loss", 5 / (epoch + 1) + rng.uniform(), { step: epoch * 3 + step, epoch });
          rec.log("lr", 0.3 * Math.cos((epoch * 3 + step) / 12), { step: epoch * 3 + step, epoch });
        }
      }
      await rec.close("ok");
    }
    const key = `eval-${method}`;
    keys[method] = key;
    const dir = `${tmp}/objects/${key}`;
    await Deno.mkdir(dir, { recursive: true });
    const rec = await openRecorder(dir, {
      run: key,
      experiment: EXPERIMENT,
      profile: null,
      stageId: `eval[method=${method}]`,
      kind: "linear_eval",
      method,
      dataset: "cifar100",
      params: { epochs: 5 },
      backend: "wasm",
      device: "cpu",
    }, { dbPath });
    let best = 0;
    let acc = 0;
    for (let epoch = 0; epoch < 5; epoch++) {
      acc = 20 + 40 * rng.uniform();
      best = Math.max(best, acc);
      rec.log("linear_top1", acc, { epoch });
      rec.log("linear_top5", acc + 20, { epoch });
      rec.log("train_loss", 2 / (epoch + 1), { epoch });
    }
    rec.result("linear_top1_final", acc);
    rec.result("linear_top5_final", acc + 20);
    rec.result("linear_top1_best", best);
    rec.result("linear_top5_best", best + 20);
    rec.result("knn_top1", best - 3.125);
    rec.result("knn_top5", best + 10);
    await rec.close("ok");
  }
  const db = MetricsDb.shared(dbPath);
  const data = await loadReportData(db, { experiment: EXPERIMENT }, await loadPaperTable());
  const dir = `${tmp}/reports/${EXPERIMENT}`;
  await writeReport(dir, data);
  return { tmp, dbPath, db, dir, keys, data };
})();

Deno.test("report folder has every file", async () => {
  const { dir } = await fixture;
  for (const f of REPORT_FILES) assert((await Deno.stat(`${dir}/${f}`)).size > 0, `${f} is empty`);
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  assertEquals(names, [...REPORT_FILES].sort(), "nothing else (no staging leftovers)");
});

Deno.test("table.md equals what DuckDB holds", async () => {
  const { dir, db } = await fixture;
  const md = await Deno.readTextFile(`${dir}/table.md`);
  const rows = md.split("\n").filter((l) => l.startsWith("| ") && !l.startsWith("| Method"));
  const cells = new Map(rows.map((l) => {
    const c = l.split("|").slice(1, -1).map((s) => s.trim());
    return [c[0], c.slice(1)];
  }));
  const expected = await db.read(async (con) =>
    (await con.runAndReadAll(
      `SELECT method, name, value FROM latest_results
       WHERE experiment = '${EXPERIMENT}' AND kind = 'linear_eval'`,
    )).getRowsJson()
  );
  const value = (method: string, name: string) => {
    const row = expected.find((r) => r[0] === method && r[1] === name);
    assert(row, `DuckDB has ${method}/${name}`);
    return Number(row[2]).toFixed(2);
  };
  const labels: Record<string, string> = {
    arb: "ARB",
    barlow_twins: "Barlow Twins",
    random_init: "Random init",
  };
  const paper = await loadPaperTable();
  for (const method of METHODS) {
    const c = cells.get(labels[method]);
    assert(c, `row for ${method} in:\n${md}`);
    const p = paper.table[method]?.cifar100;
    assertEquals(c[0], p ? `${p.top1.toFixed(2)} (${p.top5.toFixed(2)})` : "—", "paper");
    assertEquals(
      c[1],
      `${value(method, "linear_top1_best")} (${value(method, "linear_top5_best")})`,
    );
    assertEquals(
      c[3],
      `${value(method, "linear_top1_final")} (${value(method, "linear_top5_final")})`,
    );
    assertEquals(c[4], `${value(method, "knn_top1")} (${value(method, "knn_top5")})`);
    if (p) {
      const delta = Number(value(method, "linear_top1_best")) - p.top1;
      assertAlmostEquals(Number(c[2].replace("−", "-")), delta, 0.006, "delta");
    } else assertEquals(c[2], "—");
  }
  // The paper's other methods stand in the table with the paper's numbers only.
  assertEquals(cells.get("VICReg"), ["68.54 (90.83)", "—", "—", "—", "—"]);
});

Deno.test("summary.json: every number with its run id and protocol", async () => {
  const { dir, keys, data } = await fixture;
  const summary = JSON.parse(await Deno.readTextFile(`${dir}/summary.json`));
  assertEquals(summary.experiment, EXPERIMENT);
  for (const method of METHODS) {
    const e = summary.entries.find((x: { method: string }) => x.method === method);
    for (const k of ["best", "final", "knn"]) {
      assertEquals(e[k].run, keys[method], `${method}.${k}.run`);
      assertEquals(e[k].protocol, k);
    }
    const results = data.results.filter((r) => r.run === keys[method]);
    assertEquals(e.best.top1, results.find((r) => r.name === "linear_top1_best")!.value);
    assertEquals(e.final.top5, results.find((r) => r.name === "linear_top5_final")!.value);
  }
  assertStringIncludes(summary.protocols.paper, "best test accuracy");
  assertEquals(summary.paper.extra[0].top1, 73.1);
  assertEquals(summary.runs.length, 5);
});

Deno.test("PNGs decode and are the SVGs' size at the PNG scale", async () => {
  const { dir } = await fixture;
  for (const name of ["table", "curves"]) {
    const svg = await Deno.readTextFile(`${dir}/${name}.svg`);
    const size = svgSize(svg);
    const png = await decodePng(await Deno.readFile(`${dir}/${name}.png`));
    assertEquals([png.width, png.height], [
      Math.round(size.width * PNG_SCALE),
      Math.round(size.height * PNG_SCALE),
    ]);
    const ink = nonBackgroundFraction(png);
    assert(ink > 0.01 && ink < 0.9, `${name}.png has drawn content (${ink})`);
  }
  // The SVG table carries the table's text.
  const table = await Deno.readTextFile(`${dir}/table.svg`);
  for (const t of ["ARB", "Barlow Twins", "69.57 (91.77)", "CIFAR-100"]) {
    assertStringIncludes(table, t);
  }
});

Deno.test("index.html opens offline in headless Chromium: figures drawn, no errors", async (t) => {
  const binary = findChromium();
  if (!binary) {
    console.log("SKIPPED: chromium is not installed (CI installs it via .ci/run)");
    return;
  }
  const { dir } = await fixture;
  const html = await Deno.readTextFile(`${dir}/index.html`);
  assert(!/<script[^>]+src=/i.test(html), "no external scripts");
  assert(!/<link[^>]+href=/i.test(html), "no external stylesheets");
  const page = await HeadlessPage.launch(binary);
  try {
    await page.goto(`file://${dir}/index.html`);
    await page.waitFor(
      `["#table-figure", "#training-figure", "#linear-figure"]
        .every((s) => document.querySelector(s + " svg"))`,
    );
    const tableText = await page.evaluate<string>(
      `document.querySelector("#table-figure svg").textContent`,
    );
    for (const s of ["ARB", "Barlow Twins", "Random init", "69.57 (91.77)", "Δ top-1"]) {
      assertStringIncludes(tableText, s);
    }
    const lines = await page.evaluate<number>(
      `document.querySelectorAll("#training-figure svg path.mark-line path, #training-figure svg .mark-line path").length`,
    );
    assert(lines >= 2, `training curves drawn (${lines} line paths)`);
    const shot = await decodePng(await page.screenshot());
    const ink = nonBackgroundFraction(shot);
    assert(shot.width >= 800 && ink > 0.01, `screenshot not blank (${shot.width}px, ink ${ink})`);
    await t.step("no console errors", () => assertEquals(page.errors, []));
  } finally {
    await page.close();
  }
});

Deno.test("deno task report renders from the database alone", async () => {
  const { tmp, dbPath } = await fixture;
  const out = `${tmp}/cli-report`;
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "reports/cli.ts", EXPERIMENT, "--db", dbPath, "--out", out],
    cwd: new URL("..", import.meta.url).pathname,
  }).output();
  const dec = new TextDecoder();
  assertEquals(r.code, 0, dec.decode(r.stderr));
  assertStringIncludes(dec.decode(r.stdout), `${out}/index.html`);
  const md = await Deno.readTextFile(`${out}/table.md`);
  assertStringIncludes(md, "| ARB | 69.57 (91.77) |");
  const missing = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "reports/cli.ts", "nope", "--db", dbPath, "--out", `${tmp}/x`],
    cwd: new URL("..", import.meta.url).pathname,
  }).output();
  assertEquals(missing.code, 1);
  assertStringIncludes(dec.decode(missing.stderr), 'no runs of experiment "nope"');
});

Deno.test("report stage: ingests its upstream runs into a fresh database and renders them", async () => {
  const { tmp } = await fixture;
  const { kind } = await import("../stages/report.ts");
  const cacheDir = `${tmp}/fresh-cache`;
  const outDir = `${tmp}/stage-out`;
  await Deno.mkdir(outDir, { recursive: true });
  const input = (stage: string, k: string, key: string) => ({
    id: `${stage}[${key}]`,
    stage,
    kind: k,
    key,
    digest: "d",
    dir: `${tmp}/objects/${key}`,
    params: {},
    matrix: {},
  });
  const logs: string[] = [];
  const params = kind.schema.parse({ out: `${tmp}/readable` });
  await kind.run({
    experiment: EXPERIMENT,
    profile: null,
    id: "report",
    kind: "report",
    key: "report-key",
    params,
    matrix: {},
    inputs: {
      train: ["arb", "barlow_twins"].map((m) => input("train", "pretrain", `pre-${m}`)),
      eval: METHODS.map((m) => input("eval", "linear_eval", `eval-${m}`)),
    },
    outDir,
    stateDir: `${tmp}/stage-state`,
    cacheDir,
    signal: new AbortController().signal,
    log: (m) => logs.push(m),
    progress: () => {},
  });
  assertStringIncludes(logs.join("\n"), "ingested 5 upstream runs");
  const fresh = MetricsDb.shared(`${cacheDir}/metrics.duckdb`);
  const counts = await fresh.read(async (con) =>
    (await con.runAndReadAll(
      "SELECT (SELECT count(*) FROM runs)::INT, (SELECT count(*) FROM metrics)::INT",
    )).getRowsJson()
  );
  assertEquals(counts, [[5, 2 * 24 + 3 * 15]]);
  const staged = await Deno.readTextFile(`${outDir}/report/table.md`);
  assertEquals(await Deno.readTextFile(`${tmp}/readable/${EXPERIMENT}/table.md`), staged);
  assertEquals(
    staged,
    await Deno.readTextFile(`${(await fixture).dir}/table.md`),
    "same table as from the live database",
  );
  assertEquals([...Deno.readDirSync(outDir)].map((e) => e.name), ["report"]);
});

/** A run folder written by a shell command, as any program could (see the command kind). */
const FAKE_RUN = String.raw`
cat > "$OUT/run.json" <<JSON
{"run":"fake-$METHOD","experiment":"report-pipeline","profile":null,"stageId":"eval_$METHOD",
 "kind":"linear_eval","method":"$METHOD","dataset":"cifar100","params":{},"status":"ok",
 "started":"2024-01-01T00:00:00.000Z","finished":"2024-01-01T00:01:00.000Z"}
JSON
for e in 0 1 2; do
  echo "{\"run\":\"fake-$METHOD\",\"step\":null,\"epoch\":$e,\"name\":\"linear_top1\",\"value\":$TOP1,\"time\":\"2024-01-01T00:00:3$e.000Z\"}"
done > "$OUT/metrics.jsonl"
cat > "$OUT/results.json" <<JSON
{"linear_top1_best": $TOP1, "linear_top5_best": 90.5, "linear_top1_final": $TOP1,
 "linear_top5_final": 89.25, "knn_top1": 50, "knn_top5": 80}
JSON
`;

Deno.test("pipeline: report stage and `main.ts report` agree, also from a fresh database", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "arb-report-pipeline-" });
  const root = new URL("..", import.meta.url).pathname;
  const stage = (method: string, top1: number) =>
    `  eval_${method}:\n    uses: command\n    with:\n` +
    `      env: { METHOD: ${method}, TOP1: ${top1} }\n` +
    `      run: ${JSON.stringify(FAKE_RUN)}\n      outs: [run.json, results.json, metrics.jsonl]\n`;
  await Deno.writeTextFile(
    `${tmp}/exp.yaml`,
    `name: report-pipeline\nstages:\n${stage("arb", 66.5)}${stage("random_init", 21.25)}` +
      `  report:\n    uses: report\n    needs: [eval_arb, eval_random_init]\n` +
      `    with: { out: ${tmp}/readable }\n`,
  );
  const env = { ARB_CACHE_DIR: `${tmp}/cache` };
  const main = async (...args: string[]) => {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "main.ts", ...args],
      cwd: root,
      env,
    }).output();
    const dec = new TextDecoder();
    const out = dec.decode(r.stdout) + dec.decode(r.stderr);
    assertEquals(r.code, 0, out);
    return out;
  };
  await main("reproduce", `${tmp}/exp.yaml`);
  const fromStage = await Deno.readTextFile(`${tmp}/readable/report-pipeline/table.md`);
  assertStringIncludes(
    fromStage,
    "| ARB | 69.57 (91.77) | 66.50 (90.50) | −3.07 | 66.50 (89.25) | 50.00 (80.00) |",
  );
  assertStringIncludes(fromStage, "| Random init | — | 21.25 (90.50) | — |");
  // The subcommand finds the runs through the lock file and renders the same table.
  await main("report", `${tmp}/exp.yaml`, "--out", `${tmp}/cli`);
  assertEquals(await Deno.readTextFile(`${tmp}/cli/table.md`), fromStage);
  // A fresh database: the cached re-run runs nothing, and the report re-ingests the cache.
  await Deno.remove(`${tmp}/cache/metrics.duckdb`);
  assertStringIncludes(await main("reproduce", `${tmp}/exp.yaml`), "cached");
  await main("report", `${tmp}/exp.yaml`, "--out", `${tmp}/cli2`);
  assertEquals(await Deno.readTextFile(`${tmp}/cli2/table.md`), fromStage);
  // And `metrics rebuild` restores the database from the cache alone.
  await Deno.remove(`${tmp}/cache/metrics.duckdb`);
  assertStringIncludes(await main("metrics", "rebuild"), "rebuilt");
  const rows = await MetricsDb.shared(`${tmp}/cache/metrics.duckdb`).read(async (con) =>
    (await con.runAndReadAll(
      "SELECT method, count(*)::INT FROM metrics JOIN runs USING (run) GROUP BY 1 ORDER BY 1",
    )).getRowsJson()
  );
  assertEquals(rows, [["arb", 3], ["random_init", 3]]);
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("paper.yaml holds the paper's whole table", async () => {
  const paper = await loadPaperTable();
  assertEquals(Object.keys(paper.methods), [
    "vicreg",
    "swav",
    "wmse",
    "simclr",
    "barlow_twins",
    "arb",
  ]);
  for (const m of Object.keys(paper.methods)) {
    assertEquals(Object.keys(paper.table[m]).sort(), ["cifar10", "cifar100", "imagenet100"]);
  }
  assertEquals(paper.table.arb.cifar10, { top1: 92.19, top5: 99.89 });
  assertEquals(paper.table.wmse.imagenet100, { top1: 69.06, top5: 91.22 });
  assertEquals(paper.extra.map((x) => [x.method, x.backbone, x.top1, x.top5]), [[
    "arb",
    "resnet50",
    73.1,
    91.5,
  ]]);
  assertThrows(
    () =>
      parsePaperTable(
        "source: x\nprotocol: best\nbackbone: r\ndatasets: {}\nmethods: {}\ntable: { arb: {} }\n",
      ),
    "table.arb: method not declared",
  );
  assertThrows(() => parsePaperTable("source: 1\n", "p.yaml"), "p.yaml: field source");
});

globalThis.addEventListener("unload", () => {
  fixture.then(({ tmp }) => Deno.removeSync(tmp, { recursive: true })).catch(() => {});
});
