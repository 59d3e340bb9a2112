import { assert, assertEquals, assertNotEquals } from "./assert.ts";
import { Rng } from "../arb/rng.ts";

Deno.test("Rng: same seed gives the same sequence, different seeds differ", () => {
  const a = new Rng(7), b = new Rng(7), c = new Rng(8);
  const sa = Array.from({ length: 5 }, () => a.nextUint32());
  assertEquals(sa, Array.from({ length: 5 }, () => b.nextUint32()));
  assertNotEquals(sa, Array.from({ length: 5 }, () => c.nextUint32()));
});

Deno.test("Rng: state round-trips exactly", () => {
  const a = new Rng(123);
  a.uniform();
  const b = Rng.fromState(a.state());
  assertEquals(
    Array.from({ length: 8 }, () => a.nextUint32()),
    Array.from({ length: 8 }, () => b.nextUint32()),
  );
});

Deno.test("Rng: uniform moments and int range are right", () => {
  const r = new Rng(1);
  let s = 0, s2 = 0;
  const n = 100_000;
  const counts = new Array(6).fill(0);
  for (let i = 0; i < n; i++) {
    const u = r.uniform();
    assert(u >= 0 && u < 1);
    s += u;
    s2 += u * u;
    counts[r.int(6)]++;
  }
  assert(Math.abs(s / n - 0.5) < 0.005);
  assert(Math.abs(s2 / n - 1 / 3) < 0.005);
  for (const c of counts) assert(Math.abs(c / n - 1 / 6) < 0.01, `int(6) counts ${counts}`);
});

Deno.test("Rng: shuffle is a permutation", () => {
  const a = Array.from({ length: 100 }, (_, i) => i);
  new Rng(3).shuffle(a);
  assertEquals([...a].sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i));
  assertNotEquals(a, Array.from({ length: 100 }, (_, i) => i));
});
