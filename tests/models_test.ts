/**
 * Models: torchvision parameter counts and names, output shapes, init, BatchNorm train/eval
 * behaviour against a float64 reference, and the closed-form BN gradient against autodiff.
 */
import { tf } from "../arb/tf.ts";
import { Rng } from "../arb/rng.ts";
import { buildEncoder, buildProjector, parseProjectorSpec } from "../arb/models/mod.ts";
import { ParamStore } from "../arb/models/params.ts";
import { batchNorm, declareBatchNorm } from "../arb/models/layers.ts";
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "./assert.ts";

await tf.setBackend("wasm");

// torchvision.models.resnet18(): 11,689,512 parameters with the ImageNet stem and a 1000-way fc
// (512 * 1000 + 1000 = 513,000 of them). Without fc: 11,176,512. The CIFAR stem replaces the
// 7x7x3x64 conv1 (9,408) by a 3x3x3x64 one (1,728): 11,168,832 without fc, and 11,173,962 with a
// 10-way fc (+5,130), the number usually quoted for CIFAR ResNet-18.
// torchvision.models.resnet50(): 25,557,032 with fc (2048 * 1000 + 1000 = 2,049,000): 23,508,032.
Deno.test("ResNet-18 parameter counts equal torchvision's", () => {
  const img = buildEncoder({ arch: "resnet18", stem: "imagenet", inChannels: 3 }, new Rng(0));
  const cifar = buildEncoder({ arch: "resnet18", stem: "cifar", inChannels: 3 }, new Rng(0));
  try {
    assertEquals(img.paramCount, 11_176_512);
    assertEquals(img.paramCount + 512 * 1000 + 1000, 11_689_512);
    assertEquals(cifar.paramCount, 11_168_832);
    assertEquals(cifar.paramCount + 512 * 10 + 10, 11_173_962);
    assertEquals(cifar.featureDim, 512);
  } finally {
    img.dispose();
    cifar.dispose();
  }
});

Deno.test("ResNet-50 parameter count equals torchvision's and it outputs 2048-d features", () => {
  const enc = buildEncoder({ arch: "resnet50", stem: "imagenet", inChannels: 3 }, new Rng(0));
  try {
    assertEquals(enc.paramCount + 2048 * 1000 + 1000, 25_557_032);
    const y = enc.apply(tf.zeros([2, 32, 32, 3]), true);
    assertEquals(y.shape, [2, 2048]);
    y.dispose();
    const s = enc.state();
    assert("layer1.0.conv3.weight" in s && "layer4.2.bn3.running_var" in s, "bottleneck names");
    assertEquals(s["layer1.0.downsample.0.weight"].shape, [1, 1, 64, 256]);
    tf.dispose(Object.values(s));
  } finally {
    enc.dispose();
  }
});

Deno.test("ResNet-18 state has exactly torchvision's state_dict keys (less fc)", () => {
  const enc = buildEncoder({ arch: "resnet18", stem: "cifar", inChannels: 3 }, new Rng(0));
  const bn = (p: string) =>
    ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"].map((s) =>
      `${p}.${s}`
    );
  const expected = ["conv1.weight", ...bn("bn1")];
  for (let l = 1; l <= 4; l++) {
    for (let b = 0; b < 2; b++) {
      const p = `layer${l}.${b}`;
      expected.push(`${p}.conv1.weight`, ...bn(`${p}.bn1`), `${p}.conv2.weight`, ...bn(`${p}.bn2`));
      if (l > 1 && b === 0) expected.push(`${p}.downsample.0.weight`, ...bn(`${p}.downsample.1`));
    }
  }
  const s = enc.state();
  try {
    assertEquals(Object.keys(s).sort(), expected.sort());
    assertEquals(Object.keys(s).length, 120); // torchvision: 122 with fc.weight and fc.bias
    assertEquals(s["conv1.weight"].shape, [3, 3, 3, 64]);
    assertEquals(s["layer1.0.bn1.num_batches_tracked"].dtype, "int32");
  } finally {
    tf.dispose(Object.values(s));
    enc.dispose();
  }
});

Deno.test("ResNet-18 CIFAR forward shape, zero-init residual BN and kaiming fan-out init", async () => {
  const enc = buildEncoder({ arch: "resnet18", stem: "cifar", inChannels: 3 }, new Rng(1));
  const s = enc.state();
  try {
    const y = enc.apply(tf.randomUniform([2, 32, 32, 3]), false);
    assertEquals(y.shape, [2, 512]);
    y.dispose();
    for (const name of ["layer1.0.bn2.weight", "layer4.1.bn2.weight"]) {
      assertEquals(Math.max(...(await s[name].data()).map(Math.abs)), 0, name);
    }
    assertEquals(Math.min(...await s["layer1.0.bn1.weight"].data()), 1);
    const w = (await s["layer3.0.conv2.weight"].data()) as Float32Array; // 3x3x256x256, fan_out = 256 * 9
    const std = Math.sqrt(w.reduce((a: number, v: number) => a + v * v, 0) / w.length);
    assertAlmostEquals(std, Math.sqrt(2 / (256 * 9)), 0.002, "kaiming std");
  } finally {
    tf.dispose(Object.values(s));
    enc.dispose();
  }
});

Deno.test("ImageNet stem halves twice; same seed gives the same weights", async () => {
  const spec = { arch: "resnet18", stem: "imagenet", inChannels: 3 } as const;
  const a = buildEncoder(spec, new Rng(5)), b = buildEncoder(spec, new Rng(5));
  try {
    const y = a.apply(tf.randomUniform([1, 64, 64, 3]), false);
    assertEquals(y.shape, [1, 512]);
    y.dispose();
    assertEquals(await a.variables[0].data(), await b.variables[0].data());
    assertEquals(a.variables[0].shape, [7, 7, 3, 64]);
    assert(a.variables[0].name !== b.variables[0].name, "tfjs names are unique per instance");
  } finally {
    a.dispose();
    b.dispose();
  }
});

Deno.test("small convnet: 128-d features from 28x28x1, documented parameter count", () => {
  const enc = buildEncoder({ arch: "convnet", stem: "cifar", inChannels: 1 }, new Rng(0));
  try {
    const y = enc.apply(tf.zeros([3, 28, 28, 1]), true);
    assertEquals(y.shape, [3, 128]);
    y.dispose();
    // 3x3 convs 1->16->32->64->128 plus BN gamma/beta per channel.
    const convs = 9 * (1 * 16 + 16 * 32 + 32 * 64 + 64 * 128);
    assertEquals(enc.paramCount, convs + 2 * (16 + 32 + 64 + 128));
  } finally {
    enc.dispose();
  }
});

Deno.test("projector: spec parsing, names, no biases, shapes", () => {
  assertEquals(parseProjectorSpec("2048-2048-256"), [2048, 2048, 256]);
  assertThrows(() => parseProjectorSpec("2048-x"), 'projector spec "2048-x" is invalid');
  assertThrows(() => parseProjectorSpec(""), "invalid");
  const p = buildProjector("64-64-16", 32, new Rng(0));
  const s = p.state();
  try {
    assertEquals(Object.keys(s), [
      "layers.0.weight",
      "layers.1.weight",
      "layers.1.bias",
      "layers.3.weight",
      "layers.4.weight",
      "layers.4.bias",
      "layers.6.weight",
      "layers.1.running_mean",
      "layers.1.running_var",
      "layers.1.num_batches_tracked",
      "layers.4.running_mean",
      "layers.4.running_var",
      "layers.4.num_batches_tracked",
    ]);
    assertEquals(s["layers.0.weight"].shape, [32, 64]);
    const z = p.apply(tf.randomNormal([8, 32]), true);
    assertEquals(z.shape, [8, 16]);
    z.dispose();
    assertEquals(p.featureDim, 16);
  } finally {
    tf.dispose(Object.values(s));
    p.dispose();
  }
});

Deno.test("projector options: biases, and Linear-ReLU-Linear without BatchNorm (float64 reference)", async () => {
  const p = buildProjector("6-3", 4, new Rng(5), { batchNorm: false, bias: true });
  const s = p.state();
  try {
    assertEquals(Object.keys(s), [
      "layers.0.weight",
      "layers.0.bias",
      "layers.2.weight",
      "layers.2.bias",
    ]);
    assertEquals(p.paramCount, 4 * 6 + 6 + 6 * 3 + 3);
    const rng = new Rng(6);
    const x = Array.from({ length: 5 * 4 }, () => rng.normal());
    const [w0, b0, w2, b2] = await Promise.all(
      ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"].map((k) =>
        s[k].data()
      ),
    );
    // relu(x W0 + b0) W2 + b2, weights stored in x out
    const want: number[] = [];
    for (let n = 0; n < 5; n++) {
      const h = Array.from({ length: 6 }, (_, j) => {
        let a = b0[j];
        for (let i = 0; i < 4; i++) a += x[n * 4 + i] * w0[i * 6 + j];
        return Math.max(a, 0);
      });
      for (let k = 0; k < 3; k++) {
        let a = b2[k];
        for (let j = 0; j < 6; j++) a += h[j] * w2[j * 3 + k];
        want.push(a);
      }
    }
    const z = p.apply(tf.tensor2d(x, [5, 4]), true);
    const got = await z.data();
    z.dispose();
    for (let i = 0; i < want.length; i++) assertAlmostEquals(got[i], want[i], 1e-5, `z[${i}]`);
    assert(w0.some((v) => v !== 0) && b0.some((v) => v !== 0), "biases initialised (torch Linear)");
  } finally {
    tf.dispose(Object.values(s));
    p.dispose();
  }
  const withBn = buildProjector("6-3", 4, new Rng(5), { bias: true });
  assertEquals(withBn.variables.map((v) => withBn.localName(v)), [
    "layers.0.weight",
    "layers.0.bias",
    "layers.1.weight",
    "layers.1.bias",
    "layers.3.weight",
    "layers.3.bias",
  ]);
  withBn.dispose();
});

Deno.test("BatchNorm: training uses batch stats and updates running stats like PyTorch; eval uses them", async () => {
  const store = new ParamStore("bn-test");
  declareBatchNorm(store, "bn", 2);
  const rng = new Rng(3);
  const n = 6;
  const xs = Array.from({ length: n * 2 }, () => rng.normal() * 3 + 1);
  const x = tf.tensor2d(xs, [n, 2]);
  const y = await batchNorm(store, "bn", x, true).array();
  for (let c = 0; c < 2; c++) {
    const col = xs.filter((_, i) => i % 2 === c);
    const mean = col.reduce((a, b) => a + b) / n;
    const varB = col.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
    for (let i = 0; i < n; i++) {
      assertAlmostEquals(y[i][c], (col[i] - mean) / Math.sqrt(varB + 1e-5), 1e-5);
    }
    const rm = (await store.get("bn.running_mean").data())[c];
    const rv = (await store.get("bn.running_var").data())[c];
    assertAlmostEquals(rm, 0.1 * mean, 1e-6, "running_mean");
    assertAlmostEquals(rv, 0.9 + 0.1 * varB * n / (n - 1), 1e-5, "running_var (unbiased)");
    // Eval: normalised with the running statistics.
    const e = await batchNorm(store, "bn", x, false).array();
    for (let i = 0; i < n; i++) {
      assertAlmostEquals(e[i][c], (col[i] - rm) / Math.sqrt(rv + 1e-5), 1e-5);
    }
  }
  assertEquals((await store.get("bn.num_batches_tracked").data())[0], 1);
  store.dispose();
  x.dispose();
});

Deno.test("BatchNorm closed-form gradient equals autodiff of the textbook formula", async () => {
  await tf.setBackend("cpu");
  const store = new ParamStore("bn-grad");
  declareBatchNorm(store, "bn", 3);
  const rng = new Rng(9);
  const rand = (shape: number[]) =>
    tf.tensor(Array.from({ length: shape.reduce((a, b) => a * b) }, () => rng.normal()), shape);
  const x = rand([4, 2, 2, 3]), r = rand([4, 2, 2, 3]);
  const gamma = store.get("bn.weight"), beta = store.get("bn.bias");
  gamma.assign(tf.tensor1d([0.5, -1.5, 2]));
  beta.assign(tf.tensor1d([0.1, 0.2, -0.3]));
  const xv = tf.variable(x, true, "bn-grad-x");
  const { grads } = tf.variableGrads(
    () => tf.sum(tf.mul(batchNorm(store, "bn", xv, true), r)) as tf.Scalar,
    [xv, gamma, beta],
  );
  const got = [grads[xv.name], grads[gamma.name], grads[beta.name]];
  const want = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
    const { mean, variance } = tf.moments(a, [0, 1, 2]);
    const y = tf.add(tf.mul(tf.div(tf.sub(a, mean), tf.sqrt(tf.add(variance, 1e-5))), g), b);
    return tf.sum(tf.mul(y, r));
  })([x, gamma, beta]);
  for (let i = 0; i < 3; i++) {
    const a = await got[i].data(), b = await want[i].data();
    for (let j = 0; j < a.length; j++) assertAlmostEquals(a[j], b[j], 1e-4, `grad ${i}[${j}]`);
  }
  xv.dispose();
  store.dispose();
  await tf.setBackend("wasm");
});

/** Gradients of sum(encoder(x) * r) for every variable, on `backend`. */
async function encoderGrads(
  backend: string,
  spec: Parameters<typeof buildEncoder>[0],
  training: boolean,
) {
  await tf.setBackend(backend);
  const enc = buildEncoder(spec, new Rng(4));
  const rng = new Rng(5);
  const x = tf.tensor4d(Float32Array.from({ length: 4 * 32 * 32 * 3 }, () => rng.normal()), [
    4,
    32,
    32,
    3,
  ]);
  const r = tf.tensor2d(
    Float32Array.from({ length: 4 * enc.featureDim }, () => rng.normal()),
    [4, enc.featureDim],
  );
  // Non-zero residual gammas, so every branch gets a gradient.
  for (const v of enc.variables) {
    if (v.name.endsWith("bn2.weight") || v.name.endsWith("bn3.weight")) v.assign(tf.onesLike(v));
  }
  const { grads } = tf.variableGrads(
    () => tf.sum(tf.mul(enc.apply(x, training), r)) as tf.Scalar,
    enc.variables,
  );
  const out: Record<string, Float32Array> = {};
  for (const v of enc.variables) {
    out[enc.localName(v)] = (await grads[v.name].data()) as Float32Array;
  }
  tf.dispose([x, r, ...Object.values(grads)]);
  enc.dispose();
  return out;
}

// Training-mode BN on a batch of 4 with 4x4 maps is ill-conditioned in a 50-layer net (nearly
// constant channels: float32 rounding of their statistics is amplified by 1/std), so ResNet-50's
// kernels are checked in eval mode (running statistics); ResNet-18 in training mode.
for (
  const [spec, training, tol] of [
    [{ arch: "resnet18", stem: "imagenet", inChannels: 3, width: 4 }, true, 1e-3],
    [{ arch: "resnet50", stem: "cifar", inChannels: 3, width: 4 }, false, 1e-4],
  ] as const
) {
  const mode = training ? "training" : "eval-mode";
  Deno.test(`a ${spec.arch} ${spec.stem}-stem ${mode} step on wasm has the cpu gradients`, async () => {
    const ref = await encoderGrads("cpu", spec, training);
    const got = await encoderGrads("wasm", spec, training);
    for (const [name, g] of Object.entries(ref)) {
      let num = 0, den = 0;
      for (let i = 0; i < g.length; i++) {
        num = Math.max(num, Math.abs(got[name][i] - g[i]));
        den = Math.max(den, Math.abs(g[i]));
      }
      assert(den > 0, `${name}: zero gradient`);
      assert(num / den <= tol, `${name}: relative error ${num / den}`);
    }
    await tf.setBackend("wasm");
  });
}
