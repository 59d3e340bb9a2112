/** SwAV's method state: prototype normalisation, queue filling and use, freezing, checkpoints. */
import { tf } from "../arb/tf.ts";
import { Rng } from "../arb/rng.ts";
import { swavState } from "../arb/losses/swav_state.ts";
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "./assert.ts";
import { normalizeRows, randn, relativeError } from "./reference64.ts";

await tf.setBackend("cpu");

const params = {
  num_prototypes: 5,
  queue_length: 8,
  epoch_queue_starts: 1,
  freeze_prototypes_epochs: 2,
};

function rowNorms(t: tf.Tensor): number[] {
  return (tf.tidy(() => tf.norm(t, 2, 1)).arraySync() as number[]);
}

Deno.test("swav state: seeded unit prototypes, re-normalised by lossOptions each step", () => {
  const a = swavState({ projectorDim: 4, rng: new Rng(1), params });
  const b = swavState({ projectorDim: 4, rng: new Rng(1), params });
  assertEquals(a.prototypes.shape, [5, 4]);
  assertEquals(a.prototypes.arraySync(), b.prototypes.arraySync(), "same seed, same prototypes");
  assert(a.prototypes.name !== b.prototypes.name, "variable names stay unique");
  for (const v of rowNorms(a.prototypes)) assertAlmostEquals(v, 1, 1e-6);
  tf.tidy(() => a.prototypes.assign(tf.mul(a.prototypes, 3)));
  const o = a.lossOptions({ epoch: 0, step: 0 });
  assert(o.prototypes === a.prototypes, "the loss gets the variable itself");
  for (const v of rowNorms(a.prototypes)) assertAlmostEquals(v, 1, 1e-6);
  assertEquals(a.variables, [a.prototypes]);
  a.dispose();
  b.dispose();
});

Deno.test("swav state: queue starts at its epoch, fills newest-first, is used once full", () => {
  const before = tf.memory().numTensors;
  const s = swavState({ projectorDim: 4, rng: new Rng(2), params });
  const rng = new Rng(3);
  const batches = [0, 1, 2].map(() => [randn(rng, 4, 4), randn(rng, 4, 4)]);
  const step = (epoch: number, [z1, z2]: number[][][]) => {
    const [t1, t2] = [tf.tensor2d(z1), tf.tensor2d(z2)];
    s.afterStep({ epoch, step: 0, z1: t1, z2: t2 });
    tf.dispose([t1, t2]);
  };
  step(0, batches[0]); // before epoch_queue_starts: ignored
  assertEquals(s.lossOptions({ epoch: 0, step: 1 }).queue, null);
  const early = s.state();
  assertEquals(early.queue, undefined, "no queue before its epoch");
  tf.dispose(Object.values(early));
  tf.tidy(() => step(1, batches[1])); // a trainer may call afterStep inside tf.tidy
  assertEquals(s.lossOptions({ epoch: 1, step: 2 }).queue, null, "4 of 8 rows: not yet used");
  step(1, batches[2]);
  const queue = s.lossOptions({ epoch: 1, step: 3 }).queue as tf.Tensor3D;
  assertEquals(queue.shape, [2, 8, 4]);
  const q = queue.arraySync();
  for (const v of [0, 1]) {
    const expected = [...normalizeRows(batches[2][v]), ...normalizeRows(batches[1][v])];
    assert(relativeError(q[v].flat(), expected.flat()) < 1e-6, `view ${v} rows newest first`);
  }
  s.dispose();
  assertEquals(tf.memory().numTensors, before, "dispose frees everything");
});

Deno.test("swav state: prototypes frozen for the first epochs", () => {
  const s = swavState({ projectorDim: 4, rng: new Rng(4), params });
  assertEquals([0, 1, 2, 3].map((epoch) => s.frozen({ epoch })), [true, true, false, false]);
  s.dispose();
});

Deno.test("swav state: state() and load() round-trip prototypes and queue", () => {
  const s = swavState({ projectorDim: 4, rng: new Rng(5), params });
  const rng = new Rng(6);
  for (let i = 0; i < 2; i++) {
    const z = tf.tensor2d(randn(rng, 4, 4));
    s.afterStep({ epoch: 1, step: i, z1: z, z2: z });
    z.dispose();
  }
  const saved = s.state();
  const t = swavState({ projectorDim: 4, rng: new Rng(7), params });
  t.load(saved);
  assertEquals(t.prototypes.arraySync(), s.prototypes.arraySync());
  const [qs, qt] = [s.lossOptions({ epoch: 1, step: 2 }), t.lossOptions({ epoch: 1, step: 2 })];
  assertEquals((qt.queue as tf.Tensor).arraySync(), (qs.queue as tf.Tensor).arraySync());
  assertThrows(() => t.load({ prototypes: tf.zeros([3, 4]) }), "prototypes of shape [5, 4]");
  tf.dispose(Object.values(saved));
  s.dispose();
  t.dispose();
});

Deno.test("swav state: bad parameters are named", () => {
  const rng = new Rng(8);
  assertThrows(
    () => swavState({ projectorDim: 4, rng, params: { queue_lenght: 8 } }),
    "queue_lenght",
  );
  assertThrows(
    () => swavState({ projectorDim: 4, rng, params: { num_prototypes: 0 } }),
    "num_prototypes",
  );
  assertThrows(() => swavState({ projectorDim: 0, rng, params: {} }), "projectorDim");
});
