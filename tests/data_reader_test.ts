import {
  assertAlmostEquals,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "./assert.ts";
import { join } from "node:path";
import { readDataset } from "../arb/data/reader.ts";
import { ChannelStats, DatasetWriter, type MetaBase } from "../arb/data/writer.ts";
import { Rng } from "../arb/rng.ts";
import { tempDir } from "./data_fixtures.ts";

function split(n: number, shape: number[], classes: number, seed: number) {
  const rng = new Rng(seed);
  const per = shape[0] * shape[1] * shape[2];
  return {
    images: Uint8Array.from({ length: n * per }, () => rng.int(256)),
    labels: Int32Array.from({ length: n }, () => rng.int(classes)),
  };
}

const base: MetaBase = {
  name: "toy",
  shape: [4, 3, 2],
  classes: 5,
  classNames: ["a", "b", "c", "d", "e"],
  labelSets: { coarse: { classes: 2, classNames: ["x", "y"] } },
  sources: [{ url: "/dev/null", sha256: "0".repeat(64), file: "none" }],
  subset: null,
};

async function writeToy(dir: string) {
  const train = {
    ...split(30, [4, 3, 2], 5, 1),
    sets: { coarse: Int32Array.from({ length: 30 }, (_, i) => i % 2) },
  };
  const test = { ...split(7, [4, 3, 2], 5, 2), sets: { coarse: new Int32Array(7) } };
  const w = await DatasetWriter.create(dir, [4, 3, 2]);
  await w.writeSplit("train", train);
  await w.writeSplit("test", test);
  const meta = await w.commit(base);
  return { train, test, meta };
}

Deno.test("dataset folder: write then read round-trips every byte and label", async () => {
  await using tmp = await tempDir();
  const dir = join(tmp.dir, "ds");
  const { train, test, meta } = await writeToy(dir);
  const ds = await readDataset(dir);
  assertEquals(ds.meta, meta);
  assertEquals(meta.splits, { train: { n: 30 }, test: { n: 7 } });
  const tr = ds.split("train");
  assertEquals(tr.shape, [4, 3, 2]);
  assertEquals(tr.images, train.images);
  assertEquals(tr.labels, train.labels);
  assertEquals(tr.labelSets.coarse, train.sets.coarse);
  assertEquals(ds.split("test").labels, test.labels);
  const err = assertThrows(() => ds.split("val"));
  assertStringIncludes(err.message, `has no split "val"; it has`);
  // Only the final folder exists: the temporary sibling was renamed away.
  const names = [];
  for await (const e of Deno.readDir(tmp.dir)) names.push(e.name);
  assertEquals(names, ["ds"]);
});

Deno.test("dataset folder: mean and std match a float64 reference per channel", async () => {
  await using tmp = await tempDir();
  const { train, meta } = await writeToy(join(tmp.dir, "ds"));
  for (let ch = 0; ch < 2; ch++) {
    const vals = [...train.images].filter((_, i) => i % 2 === ch).map((v) => v / 255);
    const m = vals.reduce((a, b) => a + b, 0) / vals.length;
    const sd = Math.sqrt(vals.reduce((a, v) => a + (v - m) ** 2, 0) / vals.length);
    assertAlmostEquals(meta.mean[ch], m, 1e-12);
    assertAlmostEquals(meta.std[ch], sd, 1e-12);
  }
  const s = new ChannelStats(1);
  s.add(new Uint8Array([0, 255]));
  assertEquals(s.result(), { mean: [0.5], std: [0.5] });
});

Deno.test("dataset folder: the writer refuses a non-empty target and leaves nothing after a failure", async () => {
  await using tmp = await tempDir();
  const dir = join(tmp.dir, "ds");
  await Deno.mkdir(dir);
  await Deno.writeTextFile(join(dir, "keep.txt"), "x");
  const e1 = await assertRejects(() => DatasetWriter.create(dir, [1, 1, 1]));
  assertStringIncludes(e1.message, "already holds files");
  const out = join(tmp.dir, "fresh");
  const w = await DatasetWriter.create(out, [1, 1, 1]);
  await w.writeSplit("train", { images: new Uint8Array(2), labels: new Int32Array(2) });
  // No test split: meta validation fails at commit, and the temporary folder goes away.
  const e2 = await assertRejects(() => w.commit({ ...base, shape: [1, 1, 1], labelSets: {} }));
  assertStringIncludes(e2.message, "test");
  const names = [];
  for await (const e of Deno.readDir(tmp.dir)) names.push(e.name);
  assertEquals(names, ["ds"]);
});

Deno.test("dataset folder: the reader rejects a damaged or incomplete folder, naming the file", async () => {
  await using tmp = await tempDir();
  const dir = join(tmp.dir, "ds");
  await writeToy(dir);
  const images = join(dir, "train.images.u8");
  const bytes = await Deno.readFile(images);
  await Deno.writeFile(images, bytes.subarray(0, bytes.length - 1));
  const e1 = await assertRejects(() => readDataset(dir));
  assertStringIncludes(
    e1.message,
    `${images} holds ${bytes.length - 1} bytes, meta.json says ${bytes.length}`,
  );
  await Deno.writeFile(images, bytes);
  const labels = join(dir, "test.labels.i32");
  await Deno.writeFile(labels, new Uint8Array([9, 0, 0, 0, ...new Uint8Array(24)]));
  const e2 = await assertRejects(() => readDataset(dir));
  assertStringIncludes(e2.message, `${labels}: label 9 at 0 is outside 0..4`);
  await Deno.remove(join(dir, "meta.json"));
  const e3 = await assertRejects(() => readDataset(dir));
  assertStringIncludes(e3.message, "meta.json is missing");
  await Deno.writeTextFile(join(dir, "meta.json"), JSON.stringify({ format: 1, name: "x" }));
  const e4 = await assertRejects(() => readDataset(dir));
  assertStringIncludes(e4.message, "is not a valid dataset meta: shape:");
});
