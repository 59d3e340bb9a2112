/**
 * The wasm training kernels (arb/kernels/) against the cpu backend's reference kernels:
 * conv2d filter and input gradients for strides 1 and 2, same/valid/explicit padding, 1x1 and
 * 3x3 filters, odd sizes; matmul with every transpose combination; the fused training-mode
 * batch norm (forward, running statistics, gradients; with and without ReLU) against the cpu
 * op composition; the copy-free Identity.
 */
import { tf } from "../arb/tf.ts";
import { Rng } from "../arb/rng.ts";
import { assert, assertEquals } from "./assert.ts";
import { filterGradPath } from "../arb/kernels/conv_filter_grad.ts";
import { BATCH_NORM_TRAIN } from "../arb/kernels/mod.ts";
import { alignedAddress, simdKernels, simdSwitch, splitTuning } from "../arb/kernels/simd.ts";

// Split every SIMD call in two (run one half after the other here: the test backend is the
// single-threaded build), so the halves' offsets and the combining of partial sums are checked.
splitTuning.minElements = 1;
import { batchNorm, declareBatchNorm } from "../arb/models/layers.ts";
import { ParamStore } from "../arb/models/params.ts";

type Pad = "same" | "valid" | [
  [number, number],
  [number, number],
  [number, number],
  [number, number],
];

function randomArray(rng: Rng, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal();
  return a;
}

/** max |a - b| / max |b| (normwise relative error). */
function relErr(a: Float32Array | number[], b: Float32Array | number[]): number {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / Math.max(den, 1e-30);
}

/** Gradients of sum(conv2d(x, w) * r) with respect to x and w on `backend`. */
async function convGrads(
  backend: string,
  xs: number[],
  ws: number[],
  data: { x: Float32Array; w: Float32Array; r: (shape: number[]) => Float32Array },
  stride: number,
  pad: Pad,
): Promise<{ dx: Float32Array; dw: Float32Array }> {
  await tf.setBackend(backend);
  const x = tf.tensor4d(data.x, xs as [number, number, number, number]);
  const w = tf.tensor4d(data.w, ws as [number, number, number, number]);
  const yShape = tf.tidy(() => tf.conv2d(x, w, stride, pad).shape);
  const r = tf.tensor(data.r(yShape), yShape);
  const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
    tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, pad), r))
  );
  const [dx, dw] = g([x, w]);
  const out = {
    dx: (await dx.data()) as Float32Array,
    dw: (await dw.data()) as Float32Array,
  };
  tf.dispose([x, w, r, dx, dw]);
  return out;
}

const cases: { x: number[]; k: number; co: number; stride: number; pad: Pad }[] = [
  { x: [2, 8, 8, 3], k: 3, co: 4, stride: 1, pad: "same" },
  { x: [2, 8, 8, 3], k: 3, co: 4, stride: 2, pad: "same" },
  { x: [2, 9, 7, 3], k: 3, co: 5, stride: 2, pad: "same" },
  { x: [2, 9, 7, 3], k: 3, co: 5, stride: 1, pad: "valid" },
  { x: [2, 9, 7, 3], k: 3, co: 5, stride: 2, pad: "valid" },
  { x: [3, 8, 8, 4], k: 1, co: 6, stride: 1, pad: "same" },
  { x: [3, 8, 8, 4], k: 1, co: 6, stride: 2, pad: "valid" },
  { x: [3, 7, 7, 4], k: 1, co: 6, stride: 2, pad: "same" },
  { x: [2, 8, 8, 3], k: 3, co: 4, stride: 2, pad: [[0, 0], [1, 1], [1, 1], [0, 0]] },
  { x: [2, 10, 10, 2], k: 7, co: 3, stride: 2, pad: [[0, 0], [3, 3], [3, 3], [0, 0]] },
  { x: [4, 16, 16, 8], k: 3, co: 8, stride: 1, pad: [[0, 0], [1, 1], [1, 1], [0, 0]] },
  { x: [2, 11, 10, 3], k: 3, co: 4, stride: 3, pad: "same" },
  { x: [2, 8, 8, 3], k: 2, co: 4, stride: 2, pad: "valid" },
  { x: [3, 9, 9, 1], k: 3, co: 8, stride: 1, pad: [[0, 0], [1, 1], [1, 1], [0, 0]] },
  { x: [2, 10, 9, 1], k: 3, co: 4, stride: 2, pad: "valid" },
  { x: [2, 12, 12, 2], k: 5, co: 12, stride: 2, pad: [[0, 0], [2, 2], [2, 2], [0, 0]] },
  // channels a multiple of 4: the SIMD im2col fill and phase interleave
  { x: [2, 9, 9, 8], k: 3, co: 8, stride: 2, pad: [[0, 0], [1, 1], [1, 1], [0, 0]] },
  { x: [2, 7, 8, 4], k: 3, co: 4, stride: 2, pad: "same" },
  { x: [2, 10, 10, 12], k: 3, co: 16, stride: 2, pad: "valid" },
  { x: [3, 7, 9, 8], k: 3, co: 24, stride: 1, pad: "same" },
  { x: [5, 6, 6, 16], k: 1, co: 8, stride: 2, pad: "valid" },
];

const applies = {
  im2col: () => true,
  conv: () => true,
  // a first layer's few input channels, out channels a multiple of 4
  direct: (c: { x: number[]; co: number }) => c.x[3] <= 4 && c.co % 4 === 0,
  // register tiles of 4 input x 8 output channels
  tiled: (c: { x: number[]; co: number }) => c.x[3] % 4 === 0 && c.co % 8 === 0,
};
for (const path of ["im2col", "conv", "direct", "tiled"] as const) {
  for (const c of cases.filter(applies[path])) {
    const name =
      `conv grads wasm = cpu (${path} filter grad): x ${c.x} k ${c.k} co ${c.co} stride ${c.stride} pad ${
        JSON.stringify(c.pad)
      }`;
    Deno.test(name, async () => {
      filterGradPath.force = path;
      const rng = new Rng(7);
      const ws = [c.k, c.k, c.x[3], c.co];
      const x = randomArray(rng, c.x.reduce((a, b) => a * b));
      const w = randomArray(rng, ws.reduce((a, b) => a * b));
      const rSeed = rng.nextUint32();
      const data = {
        x,
        w,
        r: (s: number[]) => randomArray(new Rng(rSeed), s.reduce((a, b) => a * b)),
      };
      const ref = await convGrads("cpu", c.x, ws, data, c.stride, c.pad);
      const got = await convGrads("wasm", c.x, ws, data, c.stride, c.pad);
      const ex = relErr(got.dx, ref.dx), ew = relErr(got.dw, ref.dw);
      assert(ex <= 1e-4, `input gradient differs: relative error ${ex}`);
      assert(ew <= 1e-4, `filter gradient differs: relative error ${ew}`);
      filterGradPath.force = undefined;
    });
  }
}

Deno.test("matmul wasm = cpu for every transpose combination, batched and not", async () => {
  const rng = new Rng(3);
  for (const [batch, m, k, n] of [[0, 5, 7, 3], [0, 64, 33, 9], [2, 6, 4, 5]]) {
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        const as = ta ? [k, m] : [m, k], bs = tb ? [n, k] : [k, n];
        const aShape = batch ? [batch, ...as] : as, bShape = batch ? [batch, ...bs] : bs;
        const a = randomArray(rng, aShape.reduce((p, q) => p * q));
        const b = randomArray(rng, bShape.reduce((p, q) => p * q));
        const results: Float32Array[] = [];
        for (const backend of ["cpu", "wasm"]) {
          await tf.setBackend(backend);
          const c = tf.matMul(tf.tensor(a, aShape), tf.tensor(b, bShape), ta, tb);
          results.push((await c.data()) as Float32Array);
          c.dispose();
        }
        const e = relErr(results[1], results[0]);
        assert(e <= 1e-5, `matmul ${aShape} x ${bShape} ta=${ta} tb=${tb}: relative error ${e}`);
      }
    }
  }
});

Deno.test("wasm training kernels leak no tensors or memory", async () => {
  await tf.setBackend("wasm");
  const x = tf.randomNormal([2, 8, 8, 3]) as tf.Tensor4D;
  const w = tf.randomNormal([3, 3, 3, 4]) as tf.Tensor4D;
  const step = () =>
    tf.tidy(() => {
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, "same"))
      )([x, w]);
      return tf.add(tf.sum(g[0]), tf.sum(g[1]));
    });
  step().dispose();
  const before = tf.memory();
  for (let i = 0; i < 3; i++) step().dispose();
  const after = tf.memory();
  assert(
    after.numTensors === before.numTensors,
    `tensors ${before.numTensors} -> ${after.numTensors}`,
  );
  assert(after.numBytes === before.numBytes, `bytes ${before.numBytes} -> ${after.numBytes}`);
  tf.dispose([x, w]);
});

Deno.test("sum and mean over leading axes on wasm = cpu (and other axes still work)", async () => {
  const rng = new Rng(5);
  const shape = [3, 4, 5, 6];
  const x = randomArray(rng, 360);
  for (
    const [axis, keepDims] of [
      [[0, 1, 2], false],
      [[0], true],
      [[2, 0, 1], false],
      [[1, 2], false],
      [
        -1,
        false,
      ],
      [[0, 1, 2, 3], false],
    ] as [number[] | number, boolean][]
  ) {
    for (const op of ["sum", "mean"] as const) {
      const res: { shape: number[]; v: Float32Array }[] = [];
      for (const backend of ["cpu", "wasm"]) {
        await tf.setBackend(backend);
        const t = tf[op](tf.tensor(x, shape), axis, keepDims);
        res.push({ shape: t.shape, v: (await t.data()) as Float32Array });
        t.dispose();
      }
      assertEquals(res[1].shape, res[0].shape, `${op} ${axis} shape`);
      const e = relErr(res[1].v, res[0].v);
      assert(e <= 1e-5, `${op} over ${axis}: relative error ${e}`);
    }
  }
});

Deno.test("unsortedSegmentSum on wasm = cpu (the gradient of gather)", async () => {
  const rng = new Rng(8);
  const x = randomArray(rng, 5 * 3);
  const results: Float32Array[] = [];
  for (const backend of ["cpu", "wasm"]) {
    await tf.setBackend(backend);
    const g = tf.grads((a: tf.Tensor) => tf.sum(tf.mul(tf.gather(a, [2, 0, 2, 4, 1, 2]), 1.5)));
    const [d] = g([tf.tensor2d(x, [5, 3])]);
    results.push((await d.data()) as Float32Array);
    const s = tf.unsortedSegmentSum(
      tf.tensor2d(x, [5, 3]),
      tf.tensor1d([1, -1, 3, 1, 0], "int32"),
      4,
    );
    results.push((await s.data()) as Float32Array);
  }
  assertEquals(results[2], results[0]);
  assertEquals(results[3], results[1]);
});

/** Training-mode BN output, gradients (x, gamma, beta) and running stats on `backend`. */
async function batchNormRun(backend: string, shape: number[], relu: boolean, seed: number) {
  await tf.setBackend(backend);
  const rng = new Rng(seed);
  const c = shape[shape.length - 1];
  const n = shape.reduce((a, b) => a * b, 1);
  // channels with a large mean against their spread: the statistics must not cancel
  const xv = randomArray(rng, n).map((v, i) => 3 * v + (i % c === 1 ? 50 : 0.5));
  const r = tf.tensor(randomArray(rng, n), shape);
  const store = new ParamStore(`bn-${backend}-${seed}`);
  declareBatchNorm(store, "bn", c);
  tf.tidy(() => {
    store.get("bn.weight").assign(tf.tensor1d(randomArray(rng, c)));
    store.get("bn.bias").assign(tf.tensor1d(randomArray(rng, c)));
  });
  const init = tf.tensor(xv, shape);
  const x = tf.variable(init, true, `bn-x-${backend}-${seed}`);
  init.dispose();
  const vars = [x, store.get("bn.weight"), store.get("bn.bias")] as tf.Variable[];
  let y: Float32Array = new Float32Array();
  const { value, grads } = tf.variableGrads(() => {
    const out = batchNorm(store, "bn", x as tf.Tensor, true, { relu });
    y = out.dataSync() as Float32Array;
    return tf.sum(tf.mul(out, r)) as tf.Scalar;
  }, vars);
  const res = {
    y,
    dx: (await grads[vars[0].name].data()) as Float32Array,
    dgamma: (await grads[vars[1].name].data()) as Float32Array,
    dbeta: (await grads[vars[2].name].data()) as Float32Array,
    runningMean: (await store.get("bn.running_mean").data()) as Float32Array,
    runningVar: (await store.get("bn.running_var").data()) as Float32Array,
  };
  tf.dispose([value, r, x, ...Object.values(grads)]);
  store.dispose();
  return res;
}

Deno.test("fused batch norm on wasm = cpu composition: output, gradients, running stats", async () => {
  assert(tf.getKernel(BATCH_NORM_TRAIN, "wasm") !== undefined, "registered on wasm");
  assert(tf.getKernel(BATCH_NORM_TRAIN, "cpu") === undefined, "cpu keeps the composition");
  await tf.setBackend("wasm");
  assert(simdKernels(tf.backend()) !== null, "the SIMD loops load on this build");
  // 6 channels: JavaScript loops; 8 and 16: SIMD, and JavaScript when SIMD is switched off
  const cases = [
    [[4, 5, 3, 6], true, false],
    [[4, 5, 3, 6], false, false],
    [[4, 5, 3, 8], true, false],
    [[4, 5, 3, 8], false, false],
    [[32, 16], true, false],
    [[4, 5, 3, 8], true, true],
    [[32, 16], false, true],
  ] as const;
  for (const [shape, relu, js] of cases) {
    const ref = await batchNormRun("cpu", [...shape], relu, 3);
    await tf.setBackend("wasm");
    const before = tf.memory().numTensors;
    simdSwitch.disabled = js;
    let got;
    try {
      got = await batchNormRun("wasm", [...shape], relu, 3);
    } finally {
      simdSwitch.disabled = false;
    }
    assertEquals(tf.memory().numTensors, before, "no leak");
    for (const k of Object.keys(ref) as (keyof typeof ref)[]) {
      const e = relErr(got[k], ref[k]);
      assert(e <= 1e-4, `${shape} relu=${relu} js=${js} ${k}: relative error ${e}`);
    }
  }
});

Deno.test("simd_wasm.ts is simd.wat assembled (run `deno task build-simd` after editing it)", async () => {
  const { assembleSimd, toBase64 } = await import("../arb/kernels/build_simd.ts");
  const { SIMD_WASM } = await import("../arb/kernels/simd_wasm.ts");
  const source = await Deno.readTextFile(new URL("../arb/kernels/simd.wat", import.meta.url));
  const built = await assembleSimd(source);
  assertEquals(toBase64(built.plain), SIMD_WASM.plain);
  assertEquals(toBase64(built.shared), SIMD_WASM.shared);
});

Deno.test("Identity on wasm shares the buffer instead of copying, and clones stay independent", async () => {
  await tf.setBackend("wasm");
  const x = tf.tensor1d([1, 2, 3]);
  const buffers = tf.memory().numDataBuffers;
  const y = x.clone();
  assertEquals(tf.memory().numDataBuffers, buffers, "no new buffer");
  x.dispose();
  assertEquals(Array.from(await y.data()), [1, 2, 3], "the clone outlives the original");
  const z = tf.add(y, 1);
  assertEquals(Array.from(await y.data()), [1, 2, 3]);
  assertEquals(Array.from(await z.data()), [2, 3, 4]);
  tf.dispose([y, z]);
});

Deno.test("pow on wasm = cpu: the squaring fast path and everything else", async () => {
  const rng = new Rng(12);
  const x = Array.from(randomArray(rng, 24));
  const cases: [number[], number[], number | number[], string][] = [
    [x, [4, 6], 2, "int32"],
    [x, [4, 6], 2, "float32"],
    [x.map(Math.abs), [4, 6], 0.5, "float32"],
    [x, [4, 6], 3, "int32"],
    [[1.5], [], 2, "int32"],
    [x, [4, 6], [2, 3, 2, 3, 2, 3], "float32"],
  ];
  for (const [values, shape, exponent, dtype] of cases) {
    const res: { shape: number[]; v: Float32Array }[] = [];
    for (const backend of ["cpu", "wasm"]) {
      await tf.setBackend(backend);
      const before = tf.memory().numTensors;
      const e = Array.isArray(exponent)
        ? tf.tensor1d(exponent, dtype as "float32")
        : tf.scalar(exponent, dtype as "int32");
      const t = tf.tensor(values, shape);
      const p = tf.pow(t, e);
      res.push({ shape: p.shape, v: (await p.data()) as Float32Array });
      tf.dispose([e, t, p]);
      assertEquals(tf.memory().numTensors, before, "no leak");
    }
    assertEquals(res[1].shape, res[0].shape, `pow ${exponent} shape`);
    assert(relErr(res[1].v, res[0].v) <= 1e-6, `pow ${exponent} ${dtype}`);
  }
});

Deno.test("scratch addresses stay unsigned and 16-byte aligned past 2 GiB", () => {
  assertEquals(alignedAddress(17), 32);
  assertEquals(alignedAddress(32), 32);
  // malloc's i32 result for an address above 2^31
  assertEquals(alignedAddress(-2056322464), 2238644832);
  assertEquals(alignedAddress(-2056322460), 2238644848);
});
