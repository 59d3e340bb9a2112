import { assert, assertAlmostEquals, assertEquals, assertStringIncludes } from "./assert.ts";
import { Baselines, expectationFrom, meanStd } from "../regress/baselines.ts";
import { compareWithBaselines } from "../regress/compare.ts";
import { checksToJUnit, checksToMarkdown } from "../regress/summary.ts";

const baselines: Baselines = Baselines.parse({
  experiment: "ci",
  profile: null,
  commit: "abc",
  updated: "2026-01-01T00:00:00Z",
  seeds: [1, 2, 3],
  sigmas: 3,
  floor: 0.5,
  methods: {
    arb: {
      linear_top1: expectationFrom([80, 81, 82], 3, 0.5),
      knn_top1: expectationFrom([70, 70, 70], 3, 0.5),
    },
    random_init: {
      linear_top1: expectationFrom([60, 61, 59], 3, 0.5),
      knn_top1: expectationFrom([50, 50, 50], 3, 0.5),
    },
  },
  margins: [{ method: "arb", over: "random_init", metric: "linear_top1", min: 5 }],
});

Deno.test("meanStd matches a hand computation (sample std)", () => {
  const { mean, std } = meanStd([2, 4, 4, 4, 5, 5, 7, 9]);
  assertEquals(mean, 5);
  assertAlmostEquals(std, Math.sqrt(32 / 7), 1e-12);
});

Deno.test("expectationFrom: tolerance is sigmas x std, never below the floor", () => {
  const e = expectationFrom([80, 81, 82], 3, 0.5);
  assertEquals(e.expected, 81);
  assertEquals(e.tolerance, 3);
  assertEquals(expectationFrom([70, 70, 70], 3, 0.5).tolerance, 0.5);
});

Deno.test("compare: results inside the bands pass", () => {
  const rows = compareWithBaselines({
    arb: { linear_top1: 78.5, knn_top1: 69.6 },
    random_init: { linear_top1: 60, knn_top1: 50 },
  }, baselines);
  assertEquals(rows.map((r) => r.status), ["pass", "pass", "pass", "pass", "pass"]);
});

Deno.test("compare: a drop below the band fails and says by how much", () => {
  const rows = compareWithBaselines({
    arb: { linear_top1: 77.5, knn_top1: 70 },
    random_init: { linear_top1: 60, knn_top1: 50 },
  }, baselines);
  const bad = rows.filter((r) => r.status === "fail");
  assertEquals(bad.map((r) => r.name), ["arb linear_top1"]);
  assertStringIncludes(bad[0].note, "below the band by 0.50");
});

Deno.test("compare: a missing method fails, and so does a too-small margin over random init", () => {
  const rows = compareWithBaselines({ arb: { linear_top1: 64, knn_top1: 70 } }, baselines);
  const failed = rows.filter((r) => r.status === "fail").map((r) => r.name);
  assertEquals(failed, [
    "arb linear_top1",
    "random_init linear_top1",
    "random_init knn_top1",
    "arb - random_init linear_top1",
  ]);
  const close = compareWithBaselines({
    arb: { linear_top1: 79, knn_top1: 70 },
    random_init: { linear_top1: 76, knn_top1: 50 },
  }, baselines);
  const margin = close.at(-1)!;
  assertEquals(margin.status, "fail");
  assertStringIncludes(margin.note, "less than the required 5");
});

Deno.test("summaries: Markdown verdict and JUnit failure count agree with the rows", () => {
  const rows = compareWithBaselines({
    arb: { linear_top1: 70, knn_top1: 70 },
    random_init: { linear_top1: 60, knn_top1: 50 },
  }, baselines);
  const md = checksToMarkdown("CI accuracy gate", rows);
  assertStringIncludes(md, "FAIL (1 of 5 checks)");
  const xml = checksToJUnit("regress", rows, 12.3);
  assertStringIncludes(xml, 'tests="5" failures="1"');
  assertEquals(xml.match(/<failure /g)?.length, 1);
  assert(xml.includes("arb linear_top1"));
});
