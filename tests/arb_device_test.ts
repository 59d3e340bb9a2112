/**
 * ARB with on-device whitening (Newton-Schulz): no synchronous read anywhere in the loss or its
 * gradient (checked on cpu and wasm by forbidding reads, and for real on WebGPU, where Deno
 * cannot read synchronously), agreement with the host float64 "eigh" path, a failed whitening
 * surfacing as a NaN loss on which the trainer stops, and a small model's ARB loss and
 * gradients on WebGPU against cpu (skipped, saying why, without an adapter or the backend).
 */
import { tf } from "../arb/tf.ts";
import { Rng } from "../arb/rng.ts";
import { requestWebgpuAdapter, selectBackend } from "../arb/backend.ts";
import { losses } from "../arb/losses/mod.ts";
import { resolveWhitening } from "../arb/losses/arb.ts";
import { buildEncoder, buildProjector } from "../arb/models/mod.ts";
import { pretrain } from "../arb/train.ts";
import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "./assert.ts";
import { relativeError } from "./reference64.ts";
import { withoutSyncReads } from "./helpers/no_sync_reads.ts";

const quiet = { log: () => {} };

/** Two correlated N x D views drawn from a seed. */
function views(n: number, d: number, seed: number): [number[], number[]] {
  const rng = new Rng(seed);
  const a = Array.from({ length: n * d }, () => rng.normal());
  return [a, a.map((v) => v + 0.5 * rng.normal())];
}

/** ARB loss and its gradients w.r.t. both views, read asynchronously. */
async function lossAndGrads(
  a: number[],
  b: number[],
  shape: [number, number],
  options: Record<string, unknown>,
  forbidSyncReads: boolean,
) {
  const z1 = tf.tensor2d(a, shape), z2 = tf.tensor2d(b, shape);
  const f = (p: tf.Tensor, q: tf.Tensor) =>
    losses.arb(p as tf.Tensor2D, q as tf.Tensor2D, { ...options });
  const run = () => tf.valueAndGrads(f)([z1, z2]);
  const { value, grads } = forbidSyncReads ? withoutSyncReads(run) : run();
  const out = {
    value: (await value.data())[0],
    g1: await grads[0].data(),
    g2: await grads[1].data(),
  };
  tf.dispose([z1, z2, value, ...grads]);
  return out;
}

for (const backend of ["cpu", "wasm"]) {
  Deno.test(`arb (${backend}): newton_schulz reads nothing back and matches eigh, value and gradients`, async () => {
    await tf.setBackend(backend);
    const [a, b] = views(64, 32, 3);
    for (const groups of [1, 2]) {
      const options = {
        groups,
        swap: true,
        permutation: new Rng(5).shuffle([...Array(32).keys()]),
      };
      const before = tf.memory().numTensors;
      const eigh = await lossAndGrads(a, b, [64, 32], { ...options, whitening: "eigh" }, false);
      const ns = await lossAndGrads(
        a,
        b,
        [64, 32],
        { ...options, whitening: "newton_schulz" },
        true,
      );
      assertEquals(tf.memory().numTensors, before, "no tensor leak");
      assertAlmostEquals(ns.value, eigh.value, 1e-4 * Math.abs(eigh.value), `groups=${groups}`);
      assert(relativeError(ns.g1, eigh.g1) < 1e-3, `groups=${groups}: dz1`);
      assert(relativeError(ns.g2, eigh.g2) < 1e-3, `groups=${groups}: dz2`);
    }
  });

  Deno.test(`arb (${backend}): a non-finite whitening makes the loss NaN (never a fall-back)`, async () => {
    await tf.setBackend(backend);
    const [a, b] = views(16, 8, 4);
    a[3] = NaN;
    const ns = await lossAndGrads(a, b, [16, 8], { whitening: "newton_schulz" }, true);
    assert(Number.isNaN(ns.value), `loss ${ns.value}`);
    await assertRejects(
      () => lossAndGrads(a, b, [16, 8], { whitening: "eigh" }, false),
      "non-finite",
    );
  });
}

Deno.test("arb whitening 'auto' is eigh off webgpu", async () => {
  await tf.setBackend("cpu");
  assertEquals(resolveWhitening("auto"), "eigh");
  assertEquals(resolveWhitening("newton_schulz"), "newton_schulz");
});

Deno.test("the trainer stops on a NaN whitening, naming the step and the whitening as a cause", async () => {
  await tf.setBackend("cpu");
  const encoder = buildEncoder(
    { arch: "convnet", stem: "cifar", inChannels: 1, width: 4 },
    new Rng(1),
  );
  const projector = buildProjector("16-8", encoder.featureDim, new Rng(2));
  const rng = new Rng(6);
  const images = Float32Array.from({ length: 8 * 64 }, () => rng.uniform());
  let calls = 0;
  try {
    await assertRejects(
      () =>
        pretrain({
          encoder,
          projector,
          // the projector's output is poisoned at the second step: the whitening sees NaN
          loss: (z1, z2) =>
            losses.arb(++calls >= 2 ? z1.mul(NaN) as tf.Tensor2D : z1, z2, {
              whitening: "newton_schulz",
            }),
          data: {
            batchesPerEpoch: 2,
            async *epoch() {
              for (let i = 0; i < 2; i++) {
                yield {
                  images: tf.tensor4d(images.slice(i * 256, (i + 1) * 256), [4, 8, 8, 1]),
                  index: i,
                };
              }
            },
          },
          views: (x) => [x.clone(), tf.reverse(x, 2) as tf.Tensor4D],
          epochs: 1,
          batchSize: 4,
          seed: 0,
        }),
      "loss is NaN at step 1 (epoch 0)",
    ).then((e) => assertStringIncludes(e.message, "whitening"));
  } finally {
    encoder.dispose();
    projector.dispose();
  }
});

/** Why WebGPU cannot be tested here, or null when it can. */
async function webgpuUnavailable(): Promise<string | null> {
  if (!(await requestWebgpuAdapter().catch(() => null))) {
    return "no WebGPU adapter on this machine (Debian: install mesa-vulkan-drivers)";
  }
  try {
    await selectBackend("webgpu", quiet);
  } catch (e) {
    return (e as Error).message.split(";")[0];
  }
  return null;
}

/** One ARB training-mode forward and backward of a small convnet + projector. */
async function smallModelArb(backend: string, whitening?: string) {
  await selectBackend(backend as "cpu", quiet);
  const encoder = buildEncoder(
    { arch: "convnet", stem: "cifar", inChannels: 1, width: 4 },
    new Rng(1),
  );
  const projector = buildProjector("64-32", encoder.featureDim, new Rng(2));
  const rng = new Rng(8);
  const img = (n: number) => Float32Array.from({ length: n }, () => rng.uniform());
  const x1 = tf.tensor4d(img(48 * 12 * 12), [48, 12, 12, 1]);
  const x2 = tf.tensor4d(img(48 * 12 * 12), [48, 12, 12, 1]);
  const vars = [...encoder.variables, ...projector.variables];
  const { value, grads } = tf.variableGrads(() => {
    const z1 = projector.apply(encoder.apply(x1, true), true);
    const z2 = projector.apply(encoder.apply(x2, true), true);
    return losses.arb(z1, z2, { groups: 2, ...(whitening ? { whitening } : {}) });
  }, vars);
  const out = {
    loss: (await value.data())[0],
    grads: await Promise.all(
      vars.map(async (v) =>
        [v.name.split("/").slice(1).join("/"), await grads[v.name].data()] as const
      ),
    ),
  };
  tf.dispose([x1, x2, value, ...Object.values(grads)]);
  encoder.dispose();
  projector.dispose();
  return out;
}

Deno.test("webgpu: ARB loss and gradients of a small model match cpu; a short pretrain runs", async () => {
  const why = await webgpuUnavailable();
  if (why) {
    console.log(`skipped: ${why}`);
    return;
  }
  try {
    const cpuNs = await smallModelArb("cpu", "newton_schulz");
    const cpuEigh = await smallModelArb("cpu", "eigh");
    const gpu = await smallModelArb("webgpu"); // "auto": newton_schulz on webgpu
    assertAlmostEquals(gpu.loss, cpuNs.loss, 1e-4 * Math.abs(cpuNs.loss), "loss vs cpu");
    assertAlmostEquals(gpu.loss, cpuEigh.loss, 1e-3 * Math.abs(cpuEigh.loss), "loss vs eigh");
    gpu.grads.forEach(([name, g], i) => {
      assertEquals(name, cpuNs.grads[i][0]);
      assert(relativeError(g, cpuNs.grads[i][1]) < 1e-3, `${name}: vs cpu`);
      assert(relativeError(g, cpuEigh.grads[i][1]) < 1e-2, `${name}: vs cpu eigh`);
    });
    // the whole loop (views, ARB, LARS) on webgpu: two steps, finite losses
    await selectBackend("webgpu", quiet);
    const encoder = buildEncoder(
      { arch: "convnet", stem: "cifar", inChannels: 1, width: 4 },
      new Rng(1),
    );
    const projector = buildProjector("64-32", encoder.featureDim, new Rng(2));
    const rng = new Rng(9);
    const seen: number[] = [];
    try {
      await pretrain({
        encoder,
        projector,
        loss: losses.arb,
        data: {
          batchesPerEpoch: 2,
          async *epoch() {
            for (let i = 0; i < 2; i++) {
              const px = Float32Array.from({ length: 32 * 144 }, () => rng.uniform());
              yield { images: tf.tensor4d(px, [32, 12, 12, 1]), index: i };
            }
          },
        },
        views: (x) => [x.clone(), tf.reverse(x, 2) as tf.Tensor4D],
        epochs: 1,
        batchSize: 32,
        seed: 0,
        onStep: (s) => seen.push(s.loss),
      });
    } finally {
      encoder.dispose();
      projector.dispose();
    }
    assertEquals(seen.length, 2);
    assert(seen.every(Number.isFinite), `losses ${seen}`);
  } finally {
    await selectBackend("cpu", quiet);
  }
});
