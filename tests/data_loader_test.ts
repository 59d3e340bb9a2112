import { assert, assertEquals, assertNotEquals, assertThrows } from "./assert.ts";
import { createLoader, epochRng } from "../arb/data/loader.ts";
import type { DatasetSplit } from "../arb/data/reader.ts";
import { classCounts, selectSubset, subsetSplit } from "../arb/data/subset.ts";
import { Rng } from "../arb/rng.ts";
import { tf } from "../arb/tf.ts";

await tf.setBackend("cpu");

function toySplit(n: number, classes = 5): DatasetSplit {
  const shape: [number, number, number] = [2, 3, 2];
  const rng = new Rng(99);
  return {
    name: "train",
    n,
    shape,
    classes,
    images: Uint8Array.from({ length: n * 12 }, () => rng.int(256)),
    labels: Int32Array.from({ length: n }, (_, i) => i % classes),
    labelSets: {},
  };
}

async function collect(loader: ReturnType<typeof createLoader>, e: number) {
  const batches: {
    indices: number[];
    images: Float32Array;
    labels: Int32Array;
    shape: number[];
    dtype: string;
  }[] = [];
  for await (const b of loader.epoch(e)) {
    batches.push({
      indices: [...b.indices],
      images: b.images.dataSync() as Float32Array,
      labels: b.labels.dataSync() as Int32Array,
      shape: b.images.shape,
      dtype: `${b.images.dtype}/${b.labels.dtype}`,
    });
    b.images.dispose();
    b.labels.dispose();
  }
  return batches;
}

Deno.test("loader: same seed gives the same order, other seeds and other epochs differ", () => {
  const data = toySplit(103);
  const a = createLoader({ data, batchSize: 10, seed: 1 });
  const b = createLoader({ data, batchSize: 10, seed: 1 });
  const c = createLoader({ data, batchSize: 10, seed: 2 });
  assertEquals(a.order(0), b.order(0));
  assertEquals(a.order(7), b.order(7));
  assertNotEquals(a.order(0), c.order(0));
  assertNotEquals(a.order(0), a.order(1));
  for (const e of [0, 1, 5]) {
    assertEquals([...a.order(e)].sort((x, y) => x - y), Array.from({ length: 103 }, (_, i) => i));
  }
  // (seed, epoch) = (3, 4) and (4, 3) are different streams.
  assertNotEquals(epochRng(3, 4).state(), epochRng(4, 3).state());
  // Pinned values: the order must not change between machines or releases (a change here
  // silently changes every experiment's data order).
  const ten = createLoader({ data: toySplit(10), batchSize: 4, seed: 0 });
  assertEquals([...ten.order(0)], [5, 3, 1, 4, 6, 2, 8, 9, 7, 0]);
  assertEquals([...ten.order(1)], [7, 1, 5, 3, 6, 8, 4, 0, 9, 2]);
  assertEquals(
    [...createLoader({ data, batchSize: 10, seed: 1, shuffle: false }).order(3)].slice(0, 4),
    [0, 1, 2, 3],
  );
});

Deno.test("loader: batches hold the right pixels in [0,1] (float32 NHWC) and int32 labels", async () => {
  const data = toySplit(23);
  const loader = createLoader({ data, batchSize: 8, seed: 5 });
  const batches = await collect(loader, 2);
  assertEquals(batches.map((b) => b.shape[0]), [8, 8, 7]);
  for (const b of batches) {
    assertEquals(b.shape.slice(1), [2, 3, 2]);
    assertEquals(b.dtype, "float32/int32");
    b.indices.forEach((idx, j) => {
      assertEquals(b.labels[j], data.labels[idx]);
      for (let k = 0; k < 12; k++) {
        assertEquals(b.images[j * 12 + k], Math.fround(data.images[idx * 12 + k] / 255));
      }
    });
  }
});

Deno.test("loader: every index is seen exactly once per epoch; dropLast drops the short batch", async () => {
  const data = toySplit(103);
  const keep = createLoader({ data, batchSize: 10, seed: 3 });
  assertEquals(keep.batchesPerEpoch, 11);
  const all = (await collect(keep, 0)).flatMap((b) => b.indices);
  assertEquals(all.sort((x, y) => x - y), Array.from({ length: 103 }, (_, i) => i));
  const drop = createLoader({ data, batchSize: 10, seed: 3, dropLast: true });
  assertEquals(drop.batchesPerEpoch, 10);
  const batches = await collect(drop, 0);
  assertEquals(batches.map((b) => b.indices.length), new Array(10).fill(10));
  assertEquals(new Set(batches.flatMap((b) => b.indices)).size, 100);
  // The batches of an epoch follow order(e).
  assertEquals(batches.flatMap((b) => b.indices), [...drop.order(0)].slice(0, 100));
});

Deno.test("loader: the next batch is prepared ahead; stopping early leaks no tensor", async () => {
  const data = toySplit(50);
  const loader = createLoader({ data, batchSize: 10, seed: 0 });
  const before = tf.memory().numTensors;
  let seen = 0;
  for await (const b of loader.epoch(0)) {
    // While the caller holds batch 0 and awaits, batch 1 gets built (2 more tensors).
    await new Promise((r) => setTimeout(r, 5));
    assertEquals(tf.memory().numTensors, before + 4);
    b.images.dispose();
    b.labels.dispose();
    if (++seen === 2) break;
  }
  await new Promise((r) => setTimeout(r, 5));
  assertEquals(tf.memory().numTensors, before);
});

Deno.test("subset: balanced subsets give equal class counts, reproducibly", () => {
  const labels = Int32Array.from({ length: 1000 }, (_, i) => (i * 7) % 10);
  const a = selectSubset(labels, 10, { n: 205, seed: 4, balanced: true });
  const counts = classCounts(Int32Array.from(a, (i) => labels[i]), 10);
  assertEquals(counts.filter((c) => c === 21).length, 5); // 205 = 10 x 20 + 5 leftovers
  assertEquals(counts.filter((c) => c === 20).length, 5);
  assertEquals(a, selectSubset(labels, 10, { n: 205, seed: 4, balanced: true }));
  assertNotEquals(a, selectSubset(labels, 10, { n: 205, seed: 5, balanced: true }));
  assertEquals(new Set(a).size, 205);
  assert(a.every((v, i) => i === 0 || v > a[i - 1]), "indices ascend");
  const u = selectSubset(labels, 10, { n: 300, seed: 4, balanced: false });
  assertEquals(new Set(u).size, 300);
  const few = Int32Array.from({ length: 30 }, (_, i) => (i < 25 ? 0 : 1));
  assertThrows(
    () => selectSubset(few, 2, { n: 20, seed: 0, balanced: true }),
    "needs 10 images of class 1",
  );
  assertThrows(() => selectSubset(few, 2, { n: 31, seed: 0, balanced: false }), "subset of 31");
});

Deno.test("subset: subsetSplit feeds a loader with the kept images only", async () => {
  const data = toySplit(100);
  const small = subsetSplit(data, { n: 20, seed: 1, balanced: true });
  assertEquals(small.n, 20);
  assertEquals(classCounts(small.labels, 5), [4, 4, 4, 4, 4]);
  const batches = await collect(createLoader({ data: small, batchSize: 8, seed: 0 }), 0);
  assertEquals(batches.flatMap((b) => b.indices).length, 20);
});
