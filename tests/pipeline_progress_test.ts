/** The progress renderer: a live line redrawn in place on a terminal, plain lines otherwise. */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { ConsoleUi, formatDuration, formatProgress } from "../pipeline/progress.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("progress text: counts, percent, rate, ETA and message", () => {
  assertEquals(
    formatProgress({ step: 120, total: 500, message: "loss 0.52" }, 12),
    "120/500 (24%) 12 step/s ETA 32s loss 0.52",
  );
  assertEquals(formatProgress({ step: 3, unit: "MB" }, 2.5), "3 2.5 MB/s");
  assertEquals(formatProgress({ step: 0, total: 10 }, null), "0/10 (0%)");
  assertEquals([formatDuration(42), formatDuration(185), formatDuration(3720)], [
    "42s",
    "3m05s",
    "1h02m",
  ]);
});

Deno.test("live mode redraws one line and keeps log lines above it", async () => {
  let out = "";
  const ui = new ConsoleUi({ live: true, intervalMs: 1000, write: (t) => out += t });
  ui.stageStart("train");
  ui.stageProgress("train", { step: 1, total: 4 });
  await sleep(30);
  ui.stageProgress("train", { step: 2, total: 4, message: "loss 0.5" });
  await sleep(150);
  assertStringIncludes(out, "train 2/4 (50%)");
  assert(!out.endsWith("\n"), "the live line has no newline");
  ui.stageLog("train", "hello");
  assertStringIncludes(out, "\r\x1b[K[train] hello\ntrain 2/4 (50%)");
  assertStringIncludes(out, "loss 0.5 [0s]");
  ui.stageEnd("train");
  ui.close();
  assert(out.endsWith("\r\x1b[K"), "closing clears the live line");
});

Deno.test("plain mode prints a progress line per interval, only when progress moved", async () => {
  const lines: string[] = [];
  const ui = new ConsoleUi({ live: false, intervalMs: 50, write: (t) => lines.push(t) });
  ui.stageStart("eval");
  ui.stageProgress("eval", { step: 5, total: 10 });
  await sleep(180);
  ui.close();
  const progress = lines.filter((l) => l.startsWith("progress eval: "));
  assertEquals(progress, ["progress eval: 5/10 (50%)\n"]);
});

Deno.test("the rate restarts with each phase: a new total or a count that goes back", async () => {
  const lines: string[] = [];
  const ui = new ConsoleUi({ live: false, intervalMs: 40, write: (t) => lines.push(t) });
  ui.stageStart("eval");
  ui.stageProgress("eval", { step: 0, total: 60000, unit: "img", message: "features train" });
  await sleep(200);
  ui.stageProgress("eval", { step: 60000, total: 60000, unit: "img", message: "features train" });
  // The test split starts: its rate is 10000 images over the test phase's time only.
  const t1 = performance.now();
  ui.stageProgress("eval", { step: 0, total: 10000, unit: "img", message: "features test" });
  await sleep(100);
  ui.stageProgress("eval", { step: 10000, total: 10000, unit: "img", message: "features test" });
  const phase = (performance.now() - t1) / 1000;
  await sleep(60);
  ui.close();
  const last = lines.filter((l) => l.startsWith("progress eval: 10000/10000")).at(-1)!;
  const rate = Number(/ ([0-9.]+) img\/s/.exec(last)![1]);
  // Counting the 200 ms train phase too would give at most 10000 / (phase + 0.2).
  assert(rate > 10000 / (phase + 0.1), `rate ${rate} in "${last.trim()}" counts the train phase`);
});
