import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertNotEquals,
  assertThrows,
} from "./assert.ts";
import { tf } from "../arb/tf.ts";
import { Rng } from "../arb/rng.ts";
import {
  adjustBrightness,
  adjustContrast,
  adjustHue,
  adjustSaturation,
  applyView,
  augment,
  blurMatrix,
  gaussianBlur,
  grayscale,
  normalize,
  paddedCrop,
  parseRecipe,
  recipes,
  resizedCrop,
  resizedCropBox,
  sampleViewParams,
  solarize,
  type ViewRecipe,
} from "../arb/augment/mod.ts";

const BACKENDS = ["cpu", "wasm"];
const CIFAR = { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.243, 0.261] };

function images(n: number, h: number, w: number, c: number, seed: number): tf.Tensor4D {
  const rng = new Rng(seed);
  return tf.tensor4d(Float32Array.from({ length: n * h * w * c }, () => rng.uniform()), [
    n,
    h,
    w,
    c,
  ]);
}

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => a.sub(b).abs().max().dataSync()[0]);
}

/** Runs fn and checks it leaves no tensor behind except what it returns (disposed here). */
function noLeak(fn: () => void) {
  const before = tf.memory().numTensors;
  fn();
  assertEquals(tf.memory().numTensors, before, "tensor count is flat");
}

const full = (n: number, h: number, w: number) =>
  Array.from({ length: n }, () => ({ top: 0, left: 0, height: h, width: w }));

for (const backend of BACKENDS) {
  const t = (name: string, fn: () => void) =>
    Deno.test(`augment (${backend}): ${name}`, async () => {
      await tf.setBackend(backend);
      noLeak(() => tf.tidy(fn));
    });

  t("full-image crop is the identity; flip once reverses, twice restores", () => {
    const x = images(3, 8, 6, 3, 1);
    assert(
      maxDiff(resizedCrop(x, full(3, 8, 6), [false, false, false]), x) < 1e-5,
      "identity crop",
    );
    const once = resizedCrop(x, full(3, 8, 6), [true, false, true]);
    const expected = tf.concat([x.slice(0, 1).reverse(2), x.slice(1, 1), x.slice(2, 1).reverse(2)]);
    assert(maxDiff(once, expected) < 1e-5, "flip reverses the width axis of flipped images only");
    assert(maxDiff(resizedCrop(once, full(3, 8, 6), [true, false, true]), x) < 1e-5, "flip twice");
    const exact = paddedCrop(
      paddedCrop(x, 0, full(3, 8, 6), [true, true, true]),
      0,
      full(3, 8, 6),
      [true, true, true],
    );
    assertEquals(Array.from(exact.dataSync()), Array.from(x.dataSync()), "exact flip twice");
  });

  t("resized crop equals a float64 half-pixel bilinear reference with edge clamping", () => {
    const [h, w] = [7, 9];
    const x = images(2, h, w, 2, 2);
    const boxes = [{ top: 2, left: 1, height: 3, width: 5 }, {
      top: 0,
      left: 4,
      height: 7,
      width: 5,
    }];
    const got = resizedCrop(x, boxes, [false, true]).arraySync();
    const src = x.arraySync();
    const sample = (img: number[][][], y: number, xx: number, ch: number) => {
      const cy = Math.min(Math.max(y, 0), h - 1), cx = Math.min(Math.max(xx, 0), w - 1);
      const y0 = Math.floor(cy),
        x0 = Math.floor(cx),
        y1 = Math.min(y0 + 1, h - 1),
        x1 = Math.min(x0 + 1, w - 1);
      const fy = cy - y0, fx = cx - x0;
      return (1 - fy) * ((1 - fx) * img[y0][x0][ch] + fx * img[y0][x1][ch]) +
        fy * ((1 - fx) * img[y1][x0][ch] + fx * img[y1][x1][ch]);
    };
    boxes.forEach((b, i) => {
      for (let r = 0; r < h; r++) {
        for (let c = 0; c < w; c++) {
          const cc = i === 1 ? w - 1 - c : c;
          const sy = b.top + (r + 0.5) * b.height / h - 0.5,
            sx = b.left + (cc + 0.5) * b.width / w - 0.5;
          // inside the crop box the two agree; the reference clamps at the image border only
          for (let ch = 0; ch < 2; ch++) {
            assertAlmostEquals(
              got[i][r][c][ch],
              sample(src[i], sy, sx, ch),
              1e-5,
              `image ${i} (${r}, ${c})`,
            );
          }
        }
      }
    });
  });

  t("padded crop: centre offset is the identity, corner offset shifts in zeros", () => {
    const x = images(2, 5, 5, 1, 3);
    const centre = paddedCrop(x, 4, [{ top: 4, left: 4 }, { top: 4, left: 4 }], [false, false]);
    assertEquals(Array.from(centre.dataSync()), Array.from(x.dataSync()));
    const corner = paddedCrop(x, 4, [{ top: 0, left: 0 }, { top: 8, left: 8 }], [false, false])
      .arraySync();
    const src = x.arraySync();
    assertEquals(corner[0][4][4][0], src[0][0][0][0]);
    assertEquals(corner[0][3][4][0], 0);
    assertEquals(corner[1][0][0][0], src[1][4][4][0]);
    assertEquals(corner[1][1][0][0], 0);
  });

  t("grayscale: equal channels holding the luma of masked images, others untouched", () => {
    const x = images(3, 4, 4, 3, 4);
    const g = grayscale(x, [true, false, true]);
    const src = x.arraySync(), out = g.arraySync();
    for (const i of [0, 2]) {
      for (const row of out[i].keys()) {
        for (const col of out[i][row].keys()) {
          const [r, gg, b] = src[i][row][col];
          const [o0, o1, o2] = out[i][row][col];
          assert(o0 === o1 && o1 === o2, "channels exactly equal");
          assertAlmostEquals(o0, 0.299 * r + 0.587 * gg + 0.114 * b, 1e-6, "luma preserved");
        }
      }
    }
    assertEquals(out[1], src[1], "unmasked image untouched");
  });

  t("solarize: inverts values >= threshold in masked images only", () => {
    const x = images(2, 4, 4, 3, 5);
    const s = solarize(x, [true, false], 0.5);
    const src = x.dataSync(), out = s.dataSync(), half = src.length / 2;
    for (let k = 0; k < src.length; k++) {
      const want = k < half && src[k] >= 0.5 ? 1 - src[k] : src[k];
      assertEquals(out[k], Math.fround(want), `value ${k}`);
    }
  });

  t("normalize: per-channel mean 0 and std 1 with the data's own statistics", () => {
    const x = tf.tidy(() =>
      images(4, 6, 6, 3, 6).mul(tf.tensor1d([0.5, 1, 2])).add(tf.tensor1d([0.1, 0, -1]))
    );
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    const norm = { mean: Array.from(mean.dataSync()), std: Array.from(variance.sqrt().dataSync()) };
    const m = tf.moments(normalize(x as tf.Tensor4D, norm), [0, 1, 2]);
    m.mean.dataSync().forEach((v) => assertAlmostEquals(v, 0, 1e-5));
    m.variance.dataSync().forEach((v) => assertAlmostEquals(v, 1, 1e-4));
    assertThrows(() => normalize(x as tf.Tensor4D, { mean: [0], std: [1] }), "3 means");
  });

  t(
    "blur: preserves a constant image and every image mean; matches a reference convolution",
    () => {
      const constant = tf.fill([2, 9, 7, 3], 0.3) as tf.Tensor4D;
      assert(maxDiff(gaussianBlur(constant, [0.7, 2]), constant) < 1e-6, "constant preserved");
      const x = images(3, 9, 7, 3, 7);
      const b = gaussianBlur(x, [0.5, 1.3, 2]);
      assert(
        maxDiff(b.mean([1, 2]), x.mean([1, 2])) < 1e-6,
        "mean preserved per image and channel",
      );
      // reference: separable Gaussian, radius ceil(3 sigma), edge-repeating reflection
      const sigma = 1.3, rad = Math.ceil(3 * sigma);
      const wts = Array.from(
        { length: 2 * rad + 1 },
        (_, k) => Math.exp(-((k - rad) ** 2) / (2 * sigma * sigma)),
      );
      const sum = wts.reduce((s, v) => s + v, 0);
      const refl = (j: number, n: number) => {
        let m = ((j % (2 * n)) + 2 * n) % (2 * n);
        if (m >= n) m = 2 * n - 1 - m;
        return m;
      };
      const img = x.arraySync()[1], got = b.arraySync()[1];
      for (let r = 0; r < 9; r++) {
        for (let c = 0; c < 7; c++) {
          let v = 0;
          for (let dy = -rad; dy <= rad; dy++) {
            for (let dx = -rad; dx <= rad; dx++) {
              v += wts[dy + rad] * wts[dx + rad] / (sum * sum) *
                img[refl(r + dy, 9)][refl(c + dx, 7)][1];
            }
          }
          assertAlmostEquals(got[r][c][1], v, 1e-5, `pixel (${r}, ${c})`);
        }
      }
      const m = blurMatrix(7, 1.1);
      for (let i = 0; i < 7; i++) {
        assertAlmostEquals(
          m.slice(i * 7, i * 7 + 7).reduce((s, v) => s + v, 0),
          1,
          1e-6,
          "rows sum to 1",
        );
        for (let j = 0; j < 7; j++) {
          assertAlmostEquals(m[i * 7 + j], m[j * 7 + i], 1e-7, "symmetric");
        }
      }
    },
  );

  t("brightness, contrast, saturation: identity at factor 1, known values elsewhere", () => {
    const x = images(2, 4, 5, 3, 8);
    for (const op of [adjustBrightness, adjustContrast, adjustSaturation]) {
      assert(maxDiff(op(x, [1, 1]), x) < 1e-6, `${op.name} factor 1`);
    }
    assert(
      maxDiff(
        adjustBrightness(x, [0.5, 2]),
        x.mul(tf.tensor4d([0.5, 2], [2, 1, 1, 1])).clipByValue(0, 1),
      ) < 1e-6,
    );
    // contrast 0: every pixel becomes the image's mean luma
    const meanLuma = x.mul(tf.tensor1d([0.299, 0.587, 0.114])).sum(3).mean([1, 2]);
    const flat = adjustContrast(x, [0, 0]);
    assert(maxDiff(flat, meanLuma.reshape([2, 1, 1, 1]).tile([1, 4, 5, 3])) < 1e-6, "contrast 0");
    // saturation 0: the luma image
    const desat = adjustSaturation(x, [0, 0]);
    assert(maxDiff(desat, grayscale(x, [true, true])) < 1e-6, "saturation 0 is grayscale");
    // one-channel images: saturation and hue are the identity
    const g = images(2, 4, 4, 1, 9);
    assertEquals(Array.from(adjustSaturation(g, [0, 2]).dataSync()), Array.from(g.dataSync()));
    assertEquals(Array.from(adjustHue(g, [0.3, -0.2]).dataSync()), Array.from(g.dataSync()));
  });

  t(
    "hue: shifts of 0 and of a full turn are the identity; red + 1/3 turn is green; matches torchvision",
    () => {
      const x = images(3, 5, 5, 3, 10);
      assert(maxDiff(adjustHue(x, [0, 0, 0]), x) < 2e-6, "shift 0");
      assert(maxDiff(adjustHue(x, [1, -1, 0.5]).slice(0, 2), x.slice(0, 2)) < 2e-6, "full turns");
      const rgb = tf.tensor4d([1, 0, 0, 0.5, 0.5, 0.5, 0.2, 0.2, 0.2], [3, 1, 1, 3]);
      assert(
        maxDiff(
          adjustHue(rgb, [1 / 3, 0.25, -0.4]),
          tf.tensor4d([0, 1, 0, 0.5, 0.5, 0.5, 0.2, 0.2, 0.2], [3, 1, 1, 3]),
        ) < 1e-6,
      );
      // torchvision _rgb2hsv / _hsv2rgb, transcribed in float64
      const shifts = [0.1, -0.37, 0.49];
      const got = adjustHue(x, shifts).arraySync(), src = x.arraySync();
      src.forEach((img, i) =>
        img.forEach((row, r) =>
          row.forEach(([R, G, B], c) => {
            const want = torchvisionHue(R, G, B, shifts[i]);
            for (let ch = 0; ch < 3; ch++) assertAlmostEquals(got[i][r][c][ch], want[ch], 2e-6);
          })
        )
      );
    },
  );

  t(
    "augment: deterministic per seed, different across seeds, normalised shape, none = normalise only",
    () => {
      const x = images(6, 8, 8, 3, 11);
      for (const recipe of [recipes.cifarView1, recipes.cifarView2, recipes.cropFlip]) {
        const a = augment(x, recipe, new Rng(1), CIFAR), b = augment(x, recipe, new Rng(1), CIFAR);
        const c = augment(x, recipe, new Rng(2), CIFAR);
        assertEquals(a.shape, x.shape);
        assertEquals(Array.from(a.dataSync()), Array.from(b.dataSync()), "same seed, same output");
        assertNotEquals(
          Array.from(a.dataSync()),
          Array.from(c.dataSync()),
          "different seed differs",
        );
        assert(Array.from(a.dataSync()).every(Number.isFinite));
      }
      assert(maxDiff(augment(x, recipes.none, new Rng(0), CIFAR), normalize(x, CIFAR)) < 1e-6);
      const gray = images(5, 28, 28, 1, 12);
      for (const recipe of [recipes.gray28View1, recipes.gray28View2]) {
        const v = augment(gray, recipe, new Rng(3), { mean: [0.286], std: [0.353] });
        assertEquals(v.shape, gray.shape);
      }
    },
  );

  t("augment: applies the documented parameters (rng stream = sampleViewParams)", () => {
    const x = images(5, 8, 8, 3, 13);
    const recipe = { ...recipes.cifarView2, blur: { p: 0.5, sigma: [0.1, 2] } } as ViewRecipe;
    const rng = new Rng(21), twin = new Rng(21);
    const out = augment(x, recipe, rng, CIFAR);
    const params = sampleViewParams(5, 8, 8, recipe, twin);
    assertEquals(rng.state(), twin.state(), "augment draws exactly what sampleViewParams draws");
    assert(maxDiff(out, normalize(applyView(x, recipe, params), CIFAR)) === 0);
    // blur of a subset leaves the other images' pixels as they were before blurring
    const noBlur = { ...recipe, blur: { p: 0, sigma: [0.1, 2] } } as ViewRecipe;
    const before = applyView(x, noBlur, { ...params, blurSigma: params.blurSigma.map(() => 0) });
    const after = applyView(x, noBlur, params);
    params.blurSigma.forEach((s, i) => {
      const d = maxDiff(before.slice(i, 1), after.slice(i, 1));
      assert(s > 0 ? d > 0 : d === 0, `image ${i}: sigma ${s}, change ${d}`);
    });
  });
}

Deno.test("sampleViewParams: draw order is as documented", () => {
  const recipe = parseRecipe("cifarView2");
  const p = sampleViewParams(2, 32, 32, recipe, new Rng(5));
  const r = new Rng(5);
  for (let i = 0; i < 2; i++) {
    const box = resizedCropBox(32, 32, [0.08, 1], [3 / 4, 4 / 3], r);
    assertEquals(p.crops![i], box);
    assertEquals(p.flips[i], r.uniform() < 0.5);
    const jitter = r.uniform() < 0.8;
    assertEquals(p.jitter[i], jitter);
    if (jitter) {
      assertEquals(p.jitterOrder[i], r.shuffle([0, 1, 2, 3]));
      assertEquals(p.jitterFactors[i], [
        r.range(0.6, 1.4),
        r.range(0.6, 1.4),
        r.range(0.8, 1.2),
        r.range(-0.1, 0.1),
      ]);
    }
    assertEquals(p.grayscale[i], r.uniform() < 0.2);
    assertEquals(p.blurSigma[i], r.uniform() < 0.1 ? r.range(0.1, 2) : 0);
    assertEquals(p.solarize[i], r.uniform() < 0.2);
  }
  assertEquals(
    r.state(),
    (() => {
      const q = new Rng(5);
      sampleViewParams(2, 32, 32, recipe, q);
      return q.state();
    })(),
  );
});

Deno.test("resizedCropBox: torchvision sampling: bounds, area, ratio, full crop at scale 1, fallback", () => {
  const rng = new Rng(6);
  for (let k = 0; k < 2000; k++) {
    const b = resizedCropBox(32, 24, [0.08, 1], [3 / 4, 4 / 3], rng);
    assert(b.top >= 0 && b.left >= 0 && b.top + b.height <= 32 && b.left + b.width <= 24, "inside");
    assert(b.height >= 1 && b.width >= 1);
  }
  for (let k = 0; k < 20; k++) {
    assertEquals(resizedCropBox(32, 32, [1, 1], [1, 1], rng), {
      top: 0,
      left: 0,
      height: 32,
      width: 32,
    });
  }
  // no try can fit a ratio of 10 at full area: central crop clamped to the ratio range
  assertEquals(resizedCropBox(30, 30, [1, 1], [10, 12], rng), {
    top: 13, // (30 - 3) // 2
    left: 0,
    height: 3,
    width: 30,
  });
  // accepted crops respect the ratio and scale ranges (up to rounding)
  let n = 0;
  for (let k = 0; k < 500; k++) {
    const b = resizedCropBox(200, 200, [0.3, 0.6], [0.8, 1.25], rng);
    if (b.height === 200 && b.width === 200) continue;
    n++;
    const area = b.height * b.width / 40000, ratio = b.width / b.height;
    assert(area > 0.29 && area < 0.61, `area ${area}`);
    assert(ratio > 0.79 && ratio < 1.27, `ratio ${ratio}`);
  }
  assert(n > 450);
});

Deno.test("recipes: DESIGN.md values, overrides, and clear errors", () => {
  assertEquals(recipes.cifarView1.colorJitter, {
    p: 0.8,
    brightness: 0.4,
    contrast: 0.4,
    saturation: 0.2,
    hue: 0.1,
  });
  assertEquals([recipes.cifarView1.blur.p, recipes.cifarView2.blur.p], [0.2, 0.1]);
  assertEquals([recipes.cifarView1.solarize.p, recipes.cifarView2.solarize.p], [0, 0.2]);
  assertEquals([recipes.cifarView1.grayscale, recipes.cifarView1.flip], [0.2, 0.5]);
  assertEquals(recipes.cifarView1.crop, {
    kind: "resized",
    scale: [0.08, 1],
    ratio: [3 / 4, 4 / 3],
  });
  const r = parseRecipe("cifarView2", { solarize: { p: 0.5 }, flip: 0 });
  assertEquals([r.solarize.p, r.solarize.threshold, r.flip], [0.5, 128 / 255, 0]);
  assertEquals(parseRecipe("cifarView1", { crop: { kind: "pad", padding: 2 } }).crop, {
    kind: "pad",
    padding: 2,
  });
  assertThrows(() => parseRecipe("cifarView1", { blur: { p: 2 } }), "blur.p");
  assertThrows(() => parseRecipe("nope"), "unknown augmentation recipe");
  assertThrows(() => parseRecipe("none", { flipp: 0.5 }), "flipp");
});

/** torchvision.transforms.functional_tensor adjust_hue for one pixel, in float64. */
function torchvisionHue(r: number, g: number, b: number, shift: number): number[] {
  const maxc = Math.max(r, g, b), minc = Math.min(r, g, b);
  const eqc = maxc === minc, cr = maxc - minc;
  const s = cr / (eqc ? 1 : maxc);
  const div = eqc ? 1 : cr;
  const rc = (maxc - r) / div, gc = (maxc - g) / div, bc = (maxc - b) / div;
  const hr = maxc === r ? bc - gc : 0;
  const hg = maxc === g && maxc !== r ? 2 + rc - bc : 0;
  const hb = maxc !== g && maxc !== r ? 4 + gc - rc : 0;
  let h = ((((hr + hg + hb) / 6 + 1) % 1) + 1) % 1;
  h = (((h + shift) % 1) + 1) % 1;
  const v = maxc;
  const i = Math.floor(h * 6), f = h * 6 - i, sector = ((i % 6) + 6) % 6;
  const clamp = (z: number) => Math.min(1, Math.max(0, z));
  const p = clamp(v * (1 - s)), q = clamp(v * (1 - s * f)), t = clamp(v * (1 - s * (1 - f)));
  return [[v, q, p, p, t, v][sector], [t, v, v, q, p, p][sector], [p, p, t, v, v, q][sector]];
}
