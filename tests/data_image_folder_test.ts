import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "./assert.ts";
// @ts-types="@types/pngjs"
import { PNG } from "pngjs";
import jpeg from "jpeg-js";
import { join } from "node:path";
import { fetchDataset } from "../arb/data/fetch.ts";
import { decodeImage } from "../arb/data/image_folder.ts";
import { FetchParams } from "../arb/data/params.ts";
import { readDataset } from "../arb/data/reader.ts";
import { resizeCenterCrop } from "../arb/data/resize.ts";
import { Rng } from "../arb/rng.ts";
import { tempDir } from "./data_fixtures.ts";

/** An RGBA buffer filled by `f(x, y) -> [r, g, b]`. */
function rgba(w: number, h: number, f: (x: number, y: number) => number[]): Uint8Array {
  const out = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const [r, g, b] = f(x, y);
      out.set([r, g, b, 255], (y * w + x) * 4);
    }
  }
  return out;
}

function pngBytes(
  w: number,
  h: number,
  f: (x: number, y: number) => number[],
  colorType?: 0 | 2 | 6,
) {
  const png = new PNG({ width: w, height: h });
  png.data.set(rgba(w, h, f));
  return new Uint8Array(PNG.sync.write(png, colorType === undefined ? {} : { colorType }));
}

function jpegBytes(w: number, h: number, f: (x: number, y: number) => number[]) {
  return new Uint8Array(jpeg.encode({ width: w, height: h, data: rgba(w, h, f) }, 95).data);
}

Deno.test("resize: same size is the identity; a constant image stays constant", () => {
  const rng = new Rng(1);
  const img = Uint8Array.from({ length: 16 * 16 * 3 }, () => rng.int(256));
  assertEquals(resizeCenterCrop(img, 16, 16, 3, 16), img);
  const flat = new Uint8Array(40 * 30 * 3).map((_, i) => [200, 10, 50][i % 3]);
  const out = resizeCenterCrop(flat, 40, 30, 3, 12);
  assertEquals(out, new Uint8Array(12 * 12 * 3).map((_, i) => [200, 10, 50][i % 3]));
});

Deno.test("resize: matches a direct 2-D float64 reference of the antialiased triangle filter", () => {
  // Reference: every output pixel is the normalised sum over all input pixels of
  // tri((x_in - cx) / s) * tri((y_in - cy) / s), s = max(1, scale), written independently.
  const w = 37, h = 23, size = 9;
  const rng = new Rng(2);
  const img = Uint8Array.from({ length: w * h }, () => rng.int(256));
  const out = resizeCenterCrop(img, w, h, 1, size);
  const scale = Math.min(w, h) / size, s = Math.max(1, scale);
  const x0 = (w - size * scale) / 2, y0 = (h - size * scale) / 2;
  const tri = (t: number) => Math.max(0, 1 - Math.abs(t));
  let worst = 0;
  for (let oy = 0; oy < size; oy++) {
    for (let ox = 0; ox < size; ox++) {
      const cx = x0 + (ox + 0.5) * scale, cy = y0 + (oy + 0.5) * scale;
      let acc = 0, norm = 0;
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const k = tri((x + 0.5 - cx) / s) * tri((y + 0.5 - cy) / s);
          acc += k * img[y * w + x];
          norm += k;
        }
      }
      worst = Math.max(worst, Math.abs(out[oy * size + ox] - acc / norm));
    }
  }
  assert(worst <= 0.5 + 1e-9, `largest difference from the reference: ${worst}`);
});

Deno.test("resize: a horizontal ramp stays a ramp away from the edges (2x shrink)", () => {
  const w = 64, h = 64;
  const img = new Uint8Array(w * h).map((_, i) => 2 * (i % w)); // value 2x at column x
  const out = resizeCenterCrop(img, w, h, 1, 32);
  // Output column o is centred on input coordinate 2o + 1, i.e. between columns 2o and 2o+1.
  for (let o = 2; o < 30; o++) assertEquals(out[5 * 32 + o], 4 * o + 1);
});

Deno.test("image-folder: JPEG and PNG classes are decoded, resized and labelled", async () => {
  await using tmp = await tempDir();
  const root = join(tmp.dir, "imgs");
  const red = (_x: number, _y: number) => [220, 20, 30];
  const blue = (_x: number, _y: number) => [10, 40, 230];
  const files: Record<string, Uint8Array> = {
    "train/zebra/a.png": pngBytes(40, 30, red),
    "train/zebra/b.JPG": jpegBytes(48, 64, red),
    "train/ant/c.png": pngBytes(20, 20, blue, 2),
    "train/ant/d.jpeg": jpegBytes(33, 17, blue),
    "train/ant/notes.txt": new TextEncoder().encode("not an image"),
    "val/ant/e.png": pngBytes(16, 16, (x, y) => [x * 10, y * 10, 128], 6),
    "val/zebra/f.png": pngBytes(24, 24, (x) => [x * 8, x * 8, x * 8], 0),
  };
  for (const [p, b] of Object.entries(files)) {
    await Deno.mkdir(join(root, p, ".."), { recursive: true });
    await Deno.writeFile(join(root, p), b);
  }
  const out = join(tmp.dir, "out");
  const progress: number[] = [];
  const meta = await fetchDataset(FetchParams.parse({ dataset: "image-folder", root, size: 16 }), {
    cacheDir: tmp.dir,
    outDir: out,
    progress: (p) => progress.push(p.step),
  });
  assertEquals(progress.at(-1), 6);
  assertEquals(meta.classNames, ["ant", "zebra"]);
  assertEquals(meta.shape, [16, 16, 3]);
  assertEquals(meta.splits, { train: { n: 4 }, test: { n: 2 } });
  assertEquals(meta.sources[0].url, root);
  assertEquals(meta.sources[0].file, "manifest of 6 images");
  const ds = await readDataset(out);
  const train = ds.split("train"), test = ds.split("test");
  assertEquals([...train.labels], [0, 0, 1, 1]); // ant/c, ant/d, zebra/a, zebra/b
  const px = (data: Uint8Array, i: number) => [...data.subarray(i * 768, (i + 1) * 768)];
  const close = (got: number[], rgb: number[], tol: number, what: string) =>
    got.forEach((v, k) =>
      assert(Math.abs(v - rgb[k % 3]) <= tol, `${what}: ${v} vs ${rgb[k % 3]}`)
    );
  close(px(train.images, 0), [10, 40, 230], 0, "ant png (exact)");
  close(px(train.images, 1), [10, 40, 230], 4, "ant jpeg");
  close(px(train.images, 2), [220, 20, 30], 0, "zebra png (exact)");
  close(px(train.images, 3), [220, 20, 30], 4, "zebra jpeg");
  // A 16x16 PNG at size 16 is stored unchanged (RGBA -> RGB); the grayscale one becomes RGB.
  const e = px(test.images, 0);
  for (let y = 0; y < 16; y++) {
    for (let x = 0; x < 16; x++) {
      assertEquals(e.slice((y * 16 + x) * 3, (y * 16 + x) * 3 + 3), [x * 10, y * 10, 128]);
    }
  }
  const gray = px(test.images, 1);
  for (let i = 0; i < gray.length; i += 3) {
    assert(gray[i] === gray[i + 1] && gray[i] === gray[i + 2], "gray");
  }
  assertEquals([...test.labels], [0, 1]);
});

Deno.test("image-folder: a damaged image, a missing split or an unknown class is named", async () => {
  await using tmp = await tempDir();
  const root = join(tmp.dir, "r");
  await Deno.mkdir(join(root, "train/cat"), { recursive: true });
  await Deno.writeFile(join(root, "train/cat/ok.png"), pngBytes(8, 8, () => [1, 2, 3]));
  const params = FetchParams.parse({ dataset: "image-folder", root, size: 8 });
  const run = (out: string) =>
    fetchDataset(params, { cacheDir: tmp.dir, outDir: join(tmp.dir, out) });
  assertStringIncludes(
    (await assertRejects(() => run("o1"))).message,
    "expected a val/ or test/ folder",
  );
  await Deno.mkdir(join(root, "val/dog"), { recursive: true });
  await Deno.writeFile(join(root, "val/dog/x.png"), pngBytes(8, 8, () => [1, 2, 3]));
  assertStringIncludes(
    (await assertRejects(() => run("o2"))).message,
    `class "dog" is not among train/'s classes`,
  );
  await Deno.rename(join(root, "val/dog"), join(root, "val/cat"));
  const bad = jpegBytes(8, 8, () => [9, 9, 9]).subarray(0, 40);
  await Deno.writeFile(join(root, "train/cat/broken.jpg"), bad);
  const err = await assertRejects(() => run("o3"));
  assertStringIncludes(err.message, join(root, "train/cat/broken.jpg"));
  // Nothing was left behind by the failed runs.
  const left = [];
  for await (const e of Deno.readDir(tmp.dir)) left.push(e.name);
  assertEquals(left, ["r"]);
  assertThrows(
    () => decodeImage(new Uint8Array([1, 2, 3, 4]), "x.bin"),
    "x.bin: neither a JPEG nor a PNG",
  );
});

Deno.test("image-folder: parameters are checked at the edge", () => {
  const issues = (p: unknown) => {
    const r = FetchParams.safeParse(p);
    return r.success
      ? ""
      : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("\n");
  };
  assertStringIncludes(
    issues({ dataset: "image-folder", size: 64 }),
    "root: image-folder needs `root`",
  );
  assertStringIncludes(
    issues({ dataset: "image-folder", root: "/x" }),
    "size: image-folder needs `size`",
  );
  assertStringIncludes(
    issues({ dataset: "cifar10", size: 32 }),
    "size: cifar10 has a fixed image size",
  );
  assertStringIncludes(
    issues({ dataset: "cifar10", sha256: "a".repeat(64) }),
    "give `sources` too",
  );
  assertStringIncludes(
    issues({ dataset: "cifar10", typo: 1 }),
    "Unrecognized key(s) in object: 'typo'",
  );
  assertStringIncludes(
    issues({ dataset: "cifar10", subset: { seed: 1 } }),
    "subset needs `train` and/or `test`",
  );
  assertEquals(issues({ dataset: "cifar10", subset: { train: 10 } }), "");
  assertEquals(FetchParams.parse({ dataset: "cifar10", subset: { train: 10 } }).subset, {
    train: 10,
    seed: 0,
    balanced: false,
  });
});
