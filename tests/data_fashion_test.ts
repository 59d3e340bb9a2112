import { assertAlmostEquals, assertEquals, assertRejects, assertStringIncludes } from "./assert.ts";
import { gunzipSync, gzipSync } from "node:zlib";
import { join } from "node:path";
import { hashBytes } from "../arb/data/checksum.ts";
import { DEBIAN_FASHION_MNIST, FASHION_MNIST_CLASSES } from "../arb/data/catalog.ts";
import { fetchDataset } from "../arb/data/fetch.ts";
import { FetchParams } from "../arb/data/params.ts";
import { readDataset } from "../arb/data/reader.ts";
import { classCounts } from "../arb/data/subset.ts";
import { startServer, tempDir } from "./data_fixtures.ts";

const FILES = [
  "train-images-idx3-ubyte.gz",
  "train-labels-idx1-ubyte.gz",
  "t10k-images-idx3-ubyte.gz",
  "t10k-labels-idx1-ubyte.gz",
];
const installed = await Promise.all(
  FILES.map((f) => Deno.stat(join(DEBIAN_FASHION_MNIST, f)).then(() => true, () => false)),
).then((all) => all.every(Boolean));
if (!installed) {
  console.warn(
    `data_fashion_test: skipped, Debian's Fashion-MNIST is not at ${DEBIAN_FASHION_MNIST} ` +
      `(apt install dataset-fashion-mnist; .ci/run installs it)`,
  );
}

Deno.test({
  name: "fashion-mnist: read from Debian's package, content verified, 60000/10000, 6000 per class",
  ignore: !installed,
  async fn() {
    await using tmp = await tempDir();
    const out = join(tmp.dir, "fmnist");
    const meta = await fetchDataset(FetchParams.parse({ dataset: "fashion-mnist" }), {
      cacheDir: join(tmp.dir, "cache"),
      outDir: out,
    });
    assertEquals(meta.shape, [28, 28, 1]);
    assertEquals(meta.classNames, FASHION_MNIST_CLASSES);
    assertEquals(meta.splits, { train: { n: 60000 }, test: { n: 10000 } });
    assertEquals(meta.sources.map((s) => s.url), FILES.map((f) => DEBIAN_FASHION_MNIST + f));
    assertEquals(
      meta.sources[0].contentSha256,
      "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    );
    // Widely quoted Fashion-MNIST train statistics: mean 0.2860, std 0.3530.
    assertAlmostEquals(meta.mean[0], 0.2860, 5e-4);
    assertAlmostEquals(meta.std[0], 0.3530, 5e-4);
    const ds = await readDataset(out);
    assertEquals(classCounts(ds.split("train").labels, 10), new Array(10).fill(6000));
    assertEquals(classCounts(ds.split("test").labels, 10), new Array(10).fill(1000));
    // The stored images are the IDX payload byte for byte (row-major 28x28, one channel).
    const idx = new Uint8Array(
      gunzipSync(await Deno.readFile(join(DEBIAN_FASHION_MNIST, "t10k-images-idx3-ubyte.gz"))),
    );
    assertEquals(ds.split("test").images, idx.subarray(16));
  },
});

Deno.test({
  name: "fashion-mnist: a copy whose content differs is refused, naming both content hashes",
  ignore: !installed,
  async fn() {
    await using tmp = await tempDir();
    const mirror = join(tmp.dir, "mirror");
    await Deno.mkdir(mirror);
    for (const f of FILES) await Deno.copyFile(join(DEBIAN_FASHION_MNIST, f), join(mirror, f));
    const labels = join(mirror, "t10k-labels-idx1-ubyte.gz");
    const raw = new Uint8Array(gunzipSync(await Deno.readFile(labels)));
    raw[100] = (raw[100] + 1) % 10; // one wrong label, still a well-formed file
    await Deno.writeFile(labels, new Uint8Array(gzipSync(raw)));
    const out = join(tmp.dir, "out");
    const err = await assertRejects(() =>
      fetchDataset(FetchParams.parse({ dataset: "fashion-mnist", sources: [mirror] }), {
        cacheDir: tmp.dir,
        outDir: out,
      })
    );
    assertStringIncludes(err.message, labels);
    assertStringIncludes(
      err.message,
      "gunzipped-content sha256 mismatch: expected 0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    );
    assertStringIncludes(err.message, `got ${hashBytes(raw)}`);
    assertEquals(await Deno.stat(out).catch(() => null), null);
  },
});

Deno.test({
  name: "fashion-mnist: an HTTP mirror is checked by content, cached, and not asked twice",
  ignore: !installed,
  async fn() {
    const files = Object.fromEntries(
      await Promise.all(
        FILES.map(async (f) => [`/fm/${f}`, await Deno.readFile(join(DEBIAN_FASHION_MNIST, f))]),
      ),
    );
    const server = startServer(files);
    await using tmp = await tempDir();
    try {
      const params = FetchParams.parse({
        dataset: "fashion-mnist",
        sources: [`${server.base}/fm/`],
      });
      const cacheDir = join(tmp.dir, "cache");
      const meta = await fetchDataset(params, { cacheDir, outDir: join(tmp.dir, "a") });
      assertEquals(meta.sources.map((s) => s.url), FILES.map((f) => `${server.base}/fm/${f}`));
      assertEquals(server.requests.length, 4);
      // The mirror's bytes are Debian's recompressed files: found again through their content hash.
      const again = await fetchDataset(params, { cacheDir, outDir: join(tmp.dir, "b") });
      assertEquals(server.requests.length, 4);
      assertEquals(again, meta);
    } finally {
      await server.close();
    }
  },
});
