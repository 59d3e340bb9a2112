import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { join } from "node:path";
import { hashBytes } from "../arb/data/checksum.ts";
import { readDataset } from "../arb/data/reader.ts";
import type { Progress, StageContext } from "../pipeline/types.ts";
import kind from "../stages/fetch_dataset.ts";
import { cifar10Archive, startServer, tempDir } from "./data_fixtures.ts";

Deno.test("fetch_dataset stage: top-level imports stay light (no tfjs, no arb/data/fetch.ts)", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "stages/fetch_dataset.ts"],
    cwd: new URL("..", import.meta.url).pathname,
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  const graph = JSON.parse(new TextDecoder().decode(out.stdout));
  // Follow static code imports only: dynamic `await import()` edges are what run() loads.
  type Dep = { code?: { specifier: string }; isDynamic?: boolean };
  type Mod = { specifier: string; dependencies?: Dep[] };
  const bySpec = new Map<string, Mod>(graph.modules.map((m: Mod) => [m.specifier, m]));
  const seen = new Set<string>(graph.roots);
  const queue: string[] = [...graph.roots];
  while (queue.length) {
    for (const d of bySpec.get(queue.pop()!)?.dependencies ?? []) {
      if (d.code && !d.isDynamic && !seen.has(d.code.specifier)) {
        seen.add(d.code.specifier);
        queue.push(d.code.specifier);
      }
    }
  }
  const specifiers = [...seen];
  assert(specifiers.some((s) => s.endsWith("/arb/data/params.ts")), "params.ts is imported");
  assert(
    graph.modules.some((m: Mod) => m.specifier.endsWith("/arb/data/fetch.ts")),
    "the graph sees the dynamic import (so the check below is not vacuous)",
  );
  for (const heavy of ["tfjs", "/arb/data/fetch.ts", "/arb/tf.ts", "jpeg-js", "pngjs"]) {
    assert(!specifiers.some((s) => s.includes(heavy)), `top-level import graph includes ${heavy}`);
  }
});

Deno.test("fetch_dataset stage: strict schema, then run() writes the dataset into ctx.outDir", async () => {
  assertEquals(kind.name, "fetch_dataset");
  const bad = kind.schema.safeParse({ dataset: "cifar10", sorces: ["x"] });
  assert(!bad.success);
  assertStringIncludes(bad.error!.issues[0].message, "'sorces'");
  const fx = await cifar10Archive(10, 10, 3);
  const server = startServer({ "/c.tgz": fx.tarGz });
  await using tmp = await tempDir();
  try {
    const params = kind.schema.parse({
      dataset: "cifar10",
      sources: [`${server.base}/c.tgz`],
      sha256: hashBytes(fx.tarGz),
    });
    const outDir = join(tmp.dir, "out");
    await Deno.mkdir(outDir); // the engine hands over a fresh, empty folder
    const progress: Progress[] = [];
    const logs: string[] = [];
    const ctx: StageContext<typeof params> = {
      experiment: "t",
      profile: null,
      id: "data",
      kind: "fetch_dataset",
      key: "k",
      params,
      matrix: {},
      inputs: {},
      outDir,
      stateDir: join(tmp.dir, "state"),
      cacheDir: join(tmp.dir, "cache"),
      signal: new AbortController().signal,
      log: (m) => logs.push(m),
      progress: (p) => progress.push(p),
    };
    await kind.run(ctx);
    const ds = await readDataset(outDir);
    assertEquals(ds.split("train").labels, fx.train.fine);
    assert(progress.some((p) => p.unit === "MB"), "download progress is reported");
    assert(logs.some((l) => l.includes("downloading cifar-10-binary.tar.gz")), logs.join("\n"));
    assert(await Deno.stat(join(tmp.dir, "cache", "downloads", hashBytes(fx.tarGz))), "cached");
  } finally {
    await server.close();
  }
});
