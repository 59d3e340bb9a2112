import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "./assert.ts";
import { join } from "node:path";
import { hashBytes } from "../arb/data/checksum.ts";
import { fetchDataset } from "../arb/data/fetch.ts";
import { FetchParams } from "../arb/data/params.ts";
import { readDataset } from "../arb/data/reader.ts";
import { classCounts } from "../arb/data/subset.ts";
import {
  CIFAR100_COARSE,
  CIFAR100_FINE,
  cifar100Archive,
  CIFAR10_NAMES,
  cifar10Archive,
  gzip,
  startServer,
  tempDir,
} from "./data_fixtures.ts";

const FAST = { retries: 1, backoffMs: 5, timeoutMs: 2000 };

/** Float64 reference of per-channel mean and population std of NHWC uint8 pixels, in [0, 1]. */
function referenceStats(nhwc: Uint8Array, c: number): { mean: number[]; std: number[] } {
  const mean: number[] = [], std: number[] = [];
  for (let ch = 0; ch < c; ch++) {
    let s = 0, n = 0;
    for (let i = ch; i < nhwc.length; i += c) {
      s += nhwc[i] / 255;
      n++;
    }
    const m = s / n;
    let ss = 0;
    for (let i = ch; i < nhwc.length; i += c) ss += (nhwc[i] / 255 - m) ** 2;
    mean.push(m);
    std.push(Math.sqrt(ss / n));
  }
  return { mean, std };
}

Deno.test("cifar10: fetched from a local server, read back exactly (NHWC, labels, names, stats)", async () => {
  const fx = await cifar10Archive(40, 60);
  const sha = hashBytes(fx.tarGz);
  const server = startServer({ "/cifar-10-binary.tar.gz": fx.tarGz });
  await using tmp = await tempDir();
  try {
    const url = `${server.base}/cifar-10-binary.tar.gz`;
    const out = join(tmp.dir, "out");
    const progress: string[] = [];
    const meta = await fetchDataset(
      FetchParams.parse({ dataset: "cifar10", sources: [url], sha256: sha }),
      {
        cacheDir: join(tmp.dir, "cache"),
        outDir: out,
        download: FAST,
        progress: (p) => progress.push(p.message ?? ""),
      },
    );
    assert(progress.some((m) => m.includes("download cifar-10-binary.tar.gz")), progress.join(","));
    const ds = await readDataset(out);
    assertEquals(ds.meta, meta);
    assertEquals(meta.shape, [32, 32, 3]);
    assertEquals(meta.classNames, CIFAR10_NAMES);
    assertEquals(meta.splits, { train: { n: 200 }, test: { n: 60 } });
    assertEquals(meta.sources, [{ url, sha256: sha, file: "cifar-10-binary.tar.gz" }]);
    assertEquals(meta.subset, null);
    const train = ds.split("train"), test = ds.split("test");
    assertEquals(train.images, fx.train.nhwc);
    assertEquals(train.labels, fx.train.fine);
    assertEquals(test.images, fx.test.nhwc);
    assertEquals(test.labels, fx.test.fine);
    const ref = referenceStats(fx.train.nhwc, 3);
    for (let ch = 0; ch < 3; ch++) {
      assertAlmostEquals(meta.mean[ch], ref.mean[ch], 1e-12, `mean[${ch}]`);
      assertAlmostEquals(meta.std[ch], ref.std[ch], 1e-12, `std[${ch}]`);
    }
    // The fixture's channels use different ranges, so a channel mix-up would show here.
    assert(meta.mean[0] < meta.mean[1] && meta.mean[1] < meta.mean[2], `${meta.mean}`);
  } finally {
    await server.close();
  }
});

Deno.test("cifar10: a second fetch hits the download cache (the server sees no request)", async () => {
  const fx = await cifar10Archive(10, 10, 5);
  const sha = hashBytes(fx.tarGz);
  const server = startServer({ "/c10.tgz": fx.tarGz });
  await using tmp = await tempDir();
  try {
    const params = FetchParams.parse({
      dataset: "cifar10",
      sources: [`${server.base}/c10.tgz`],
      sha256: sha,
    });
    const cacheDir = join(tmp.dir, "cache");
    await fetchDataset(params, { cacheDir, outDir: join(tmp.dir, "a"), download: FAST });
    const seen = server.requests.length;
    assertEquals(seen, 1);
    await fetchDataset(params, { cacheDir, outDir: join(tmp.dir, "b"), download: FAST });
    assertEquals(server.requests.length, seen);
    for (const f of ["meta.json", "train.images.u8", "train.labels.i32", "test.images.u8"]) {
      assertEquals(
        await Deno.readFile(join(tmp.dir, "b", f)),
        await Deno.readFile(join(tmp.dir, "a", f)),
        f,
      );
    }
  } finally {
    await server.close();
  }
});

Deno.test("cifar10: a mirror without `sha256` must serve the published archive (canonical checksums)", async () => {
  const fx = await cifar10Archive(2, 2, 6);
  const server = startServer({ "/cifar-10-binary.tar.gz": fx.tarGz });
  await using tmp = await tempDir();
  try {
    const url = `${server.base}/cifar-10-binary.tar.gz`;
    const err = await assertRejects(() =>
      fetchDataset(FetchParams.parse({ dataset: "cifar10", sources: [url] }), {
        cacheDir: tmp.dir,
        outDir: join(tmp.dir, "out"),
        download: FAST,
      })
    );
    assertStringIncludes(
      err.message,
      "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
    );
    assertStringIncludes(err.message, hashBytes(fx.tarGz));
    assertStringIncludes(err.message, url);
    assertEquals(await Deno.stat(join(tmp.dir, "out")).catch(() => null), null);
  } finally {
    await server.close();
  }
});

Deno.test("cifar10: a connection cut mid-archive is resumed and the dataset is intact", async () => {
  const fx = await cifar10Archive(20, 20, 7);
  const server = startServer({ "/c.tgz": fx.tarGz });
  server.modes.set("/c.tgz", "cut-once");
  await using tmp = await tempDir();
  try {
    const params = FetchParams.parse({
      dataset: "cifar10",
      sources: [`${server.base}/c.tgz`],
      sha256: hashBytes(fx.tarGz),
    });
    await fetchDataset(params, { cacheDir: tmp.dir, outDir: join(tmp.dir, "out"), download: FAST });
    assertEquals(server.requests.map((r) => r.range !== null), [false, true]);
    assertEquals((await readDataset(join(tmp.dir, "out"))).split("train").images, fx.train.nhwc);
  } finally {
    await server.close();
  }
});

Deno.test("cifar10: a truncated archive fails clearly and writes nothing", async () => {
  const fx = await cifar10Archive(20, 20, 8);
  const cut = fx.tarGz.slice(0, Math.floor(fx.tarGz.length * 0.6));
  const server = startServer({ "/t.tgz": cut });
  await using tmp = await tempDir();
  try {
    // The stated sha256 is the truncated file's: the checksum passes, the reader must catch it.
    const params = FetchParams.parse({
      dataset: "cifar10",
      sources: [`${server.base}/t.tgz`],
      sha256: hashBytes(cut),
    });
    const out = join(tmp.dir, "out");
    const err = await assertRejects(() =>
      fetchDataset(params, { cacheDir: tmp.dir, outDir: out, download: FAST })
    );
    assertStringIncludes(err.message, "truncated");
    assertStringIncludes(err.message, hashBytes(cut)); // the archive's cache path names it
    assertEquals(await Deno.stat(out).catch(() => null), null);
  } finally {
    await server.close();
  }
});

Deno.test("cifar10: a tar stream cut inside an entry (gzip intact) is caught by the tar reader", async () => {
  // gzip catches truncation by its trailer; this checks the tar layer by itself.
  const fx = await cifar10Archive(4, 4, 9);
  const half = await gzip(fx.tar.slice(0, 512 + 512 + 100));
  await using tmp = await tempDir();
  const path = join(tmp.dir, "half.tgz");
  await Deno.writeFile(path, half);
  const params = FetchParams.parse({
    dataset: "cifar10",
    sources: [path],
    sha256: hashBytes(half),
  });
  const err = await assertRejects(() =>
    fetchDataset(params, { cacheDir: tmp.dir, outDir: join(tmp.dir, "out") })
  );
  assertStringIncludes(err.message, "truncated");
});

Deno.test("cifar10: an archive without the expected members says which are missing", async () => {
  const c100 = await cifar100Archive(10, 10);
  await using tmp = await tempDir();
  const path = join(tmp.dir, "wrong.tgz");
  await Deno.writeFile(path, c100.tarGz);
  const params = FetchParams.parse({
    dataset: "cifar10",
    sources: [path],
    sha256: hashBytes(c100.tarGz),
  });
  const err = await assertRejects(() =>
    fetchDataset(params, { cacheDir: tmp.dir, outDir: join(tmp.dir, "o") })
  );
  assertStringIncludes(err.message, "lacks cifar-10-batches-bin/data_batch_1.bin");
});

Deno.test("cifar100: fine labels, coarse labels and both name lists", async () => {
  const fx = await cifar100Archive(300, 100);
  const sha = hashBytes(fx.tarGz);
  const server = startServer({ "/cifar-100-binary.tar.gz": fx.tarGz });
  await using tmp = await tempDir();
  try {
    const out = join(tmp.dir, "out");
    const meta = await fetchDataset(
      FetchParams.parse({ dataset: "cifar100", sources: [`${server.base}/`], sha256: sha }),
      { cacheDir: tmp.dir, outDir: out, download: FAST },
    );
    assertEquals(server.requests[0].path, "/cifar-100-binary.tar.gz"); // a base URL gets the name
    assertEquals(meta.classes, 100);
    assertEquals(meta.classNames, CIFAR100_FINE);
    assertEquals(meta.labelSets, { coarse: { classes: 20, classNames: CIFAR100_COARSE } });
    const ds = await readDataset(out);
    const train = ds.split("train"), test = ds.split("test");
    assertEquals(train.images, fx.train.nhwc);
    assertEquals(train.labels, fx.train.fine);
    assertEquals(train.labelSets.coarse, fx.train.coarse);
    assertEquals(test.labels, fx.test.fine);
    assertEquals(test.labelSets.coarse, fx.test.coarse);
  } finally {
    await server.close();
  }
});

Deno.test("cifar10: a balanced train subset keeps the same count per class and is recorded", async () => {
  const fx = await cifar10Archive(60, 10, 11); // 300 train images
  await using tmp = await tempDir();
  const path = join(tmp.dir, "c.tgz");
  await Deno.writeFile(path, fx.tarGz);
  const fetchOnce = async (out: string, seed: number) => {
    const params = FetchParams.parse({
      dataset: "cifar10",
      sources: [path],
      sha256: hashBytes(fx.tarGz),
      subset: { train: 100, seed, balanced: true },
    });
    await fetchDataset(params, { cacheDir: tmp.dir, outDir: join(tmp.dir, out) });
    return await readDataset(join(tmp.dir, out));
  };
  const a = await fetchOnce("a", 3), b = await fetchOnce("b", 3), c = await fetchOnce("c", 4);
  assertEquals(classCounts(a.split("train").labels, 10), new Array(10).fill(10));
  assertEquals(a.meta.subset, { train: 100, seed: 3, balanced: true });
  assertEquals(a.meta.splits.test.n, 10);
  assertEquals(a.split("train").images, b.split("train").images);
  assert(
    hashBytes(a.split("train").images) !== hashBytes(c.split("train").images),
    "seeds 3 and 4 agree",
  );
  // Every kept image is an image of the full split with its own label.
  const full = fx.train;
  const per = 3072;
  const train = a.split("train");
  for (let i = 0; i < train.n; i++) {
    const img = hashBytes(train.images.subarray(i * per, (i + 1) * per));
    let found = -1;
    for (let j = 0; j < full.n && found < 0; j++) {
      if (hashBytes(full.nhwc.subarray(j * per, (j + 1) * per)) === img) found = j;
    }
    assert(
      found >= 0 && full.fine[found] === train.labels[i],
      `subset image ${i} not in the split`,
    );
  }
});

Deno.test("cifar10: a test subset keeps a seeded share of the test split and the whole train split", async () => {
  const fx = await cifar10Archive(20, 60, 12); // 100 train, 60 test images
  await using tmp = await tempDir();
  const path = join(tmp.dir, "c.tgz");
  await Deno.writeFile(path, fx.tarGz);
  const params = FetchParams.parse({
    dataset: "cifar10",
    sources: [path],
    sha256: hashBytes(fx.tarGz),
    subset: { test: 20, seed: 5, balanced: true },
  });
  await fetchDataset(params, { cacheDir: tmp.dir, outDir: join(tmp.dir, "out") });
  const ds = await readDataset(join(tmp.dir, "out"));
  assertEquals(ds.meta.subset, { test: 20, seed: 5, balanced: true });
  assertEquals(ds.meta.splits.train.n, 100);
  assertEquals(ds.meta.splits.test.n, 20);
  assertEquals(classCounts(ds.split("test").labels, 10), new Array(10).fill(2));
  assertEquals(ds.split("train").images, fx.train.nhwc);
});
