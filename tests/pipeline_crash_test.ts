/**
 * Crashes, interrupts and concurrency with real processes: `kill -9` mid-stage leaves
 * nothing in the cache (and the state folder survives for a resume), SIGTERM kills the
 * command's whole process group and cleans its work folder, and two `reproduce` processes
 * on one cache run a stage once.
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { alive, readAll, readPid, sandbox, statuses, waitForFile } from "./pipeline_helpers.ts";

/** One stage that checkpoints to $STATE, then hangs while $HANG is set. */
const HANGING = `name: hang
stages:
  slow:
    uses: command
    with:
      run: |
        echo $$ > $PIDFILE
        if [ -f $STATE/checkpoint ]; then echo resumed > $OUT/resumed.txt; fi
        echo step1 > $STATE/checkpoint
        echo partial > $OUT/part.txt
        if [ -n "$HANG" ]; then sleep 60; fi
        echo whole > $OUT/whole.txt
      outs: [part.txt, whole.txt]
`;

function killGroup(pid: number) {
  assert(pid > 1, `refusing to signal process group ${pid}`);
  try {
    Deno.kill(-pid, "SIGKILL");
  } catch { /* already gone */ }
}

Deno.test("kill -9 mid-stage leaves nothing in the cache; the next run re-runs and resumes", async () => {
  await using box = await sandbox(HANGING);
  const pidFile = `${box.dir}/pid`;
  const child = box.spawn(["reproduce", "exp.yaml"], { PIDFILE: pidFile, HANG: "1" });
  const bash = await readPid(pidFile);
  await waitForFile(`${box.cache}/state`);
  await new Promise((r) => setTimeout(r, 200)); // let it write its partial output
  child.kill("SIGKILL");
  const st = await child.status;
  killGroup(bash); // deno died without a chance to stop its child: do it for it
  await Promise.all([readAll(child.stdout), readAll(child.stderr)]);
  assertEquals(st.signal, "SIGKILL");
  assertEquals(await box.objects(), [], "no cache entry after kill -9");
  assertEquals((await box.tmpEntries()).length, 1, "the dead attempt's work folder is in tmp/");

  await Deno.remove(pidFile);
  const summary = `${box.dir}/s.json`;
  const r = await box.cli(["reproduce", "exp.yaml", "--summary-json", summary], {
    PIDFILE: pidFile,
  });
  assertEquals(r.code, 0, r.stderr);
  assertEquals(await statuses(summary), { slow: "ran" });
  const [key] = await box.objects();
  const files = [...Deno.readDirSync(`${box.cache}/objects/${key}`)].map((e) => e.name).sort();
  assertEquals(files, [".manifest.json", "part.txt", "resumed.txt", "whole.txt"]);
  assertEquals(await box.tmpEntries(), [], "stale work folders are removed");
  assertEquals([...Deno.readDirSync(`${box.cache}/state`)], [], "state is dropped after commit");
});

Deno.test("SIGTERM stops the stage's process group, removes its work folder, exits 143", async () => {
  await using box = await sandbox(HANGING);
  const pidFile = `${box.dir}/pid`;
  const summary = `${box.dir}/s.json`;
  const child = box.spawn(["reproduce", "exp.yaml", "--summary-json", summary], {
    PIDFILE: pidFile,
    HANG: "1",
  });
  const bash = await readPid(pidFile);
  await new Promise((r) => setTimeout(r, 200));
  child.kill("SIGTERM");
  const [st, stdout, stderr] = await Promise.all([
    child.status,
    readAll(child.stdout),
    readAll(child.stderr),
  ]);
  assertEquals(st.code, 143, stderr);
  assertStringIncludes(stderr, "SIGTERM: stopping running stages");
  assertStringIncludes(stdout, "interrupted");
  assertEquals(await statuses(summary), { slow: "failed" });
  assert(!alive(bash), "the command was killed");
  assertEquals(await box.objects(), []);
  assertEquals(await box.tmpEntries(), []);
});

Deno.test("two concurrent reproduce processes run a stage once; the second waits and reuses", async () => {
  await using box = await sandbox(`name: two
stages:
  once:
    uses: command
    with:
      run: |
        echo ran >> $COUNTER
        touch $STARTED
        while [ ! -f $RELEASE ]; do sleep 0.05; done
        echo x > $OUT/x.txt
      outs: [x.txt]
  after:
    uses: command
    needs: [once]
    with: { run: "cp $IN_ONCE/x.txt $OUT/y.txt", outs: [y.txt] }
`);
  const env = {
    COUNTER: `${box.dir}/counter`,
    STARTED: `${box.dir}/started`,
    RELEASE: `${box.dir}/release`,
  };
  const first = box.spawn(["reproduce", "exp.yaml", "--summary-json", `${box.dir}/1.json`], env);
  const out1 = Promise.all([readAll(first.stdout), readAll(first.stderr)]);
  await waitForFile(env.STARTED);
  const second = box.spawn(["reproduce", "exp.yaml", "--summary-json", `${box.dir}/2.json`], env);
  // Hold the first process inside the stage until the second says it is waiting for it.
  let e2 = "";
  const reader = second.stderr.pipeThrough(new TextDecoderStream()).getReader();
  const deadline = Date.now() + 20000;
  while (!e2.includes("waiting once:") && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    e2 += value;
  }
  await Deno.writeTextFile(env.RELEASE, "");
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    e2 += value;
  }
  const [s1, s2, , [, e1]] = await Promise.all([
    first.status,
    second.status,
    readAll(second.stdout),
    out1,
  ]);
  assertEquals([s1.code, s2.code], [0, 0], e1 + e2);
  assertEquals(await Deno.readTextFile(env.COUNTER), "ran\n", "the stage ran exactly once");
  assertStringIncludes(e2, "waiting once: pid ");
  assertStringIncludes(e2, "will reuse its output");
  assertStringIncludes(e2, "reused  once: another run committed it meanwhile");
  const [one, two] = [await statuses(`${box.dir}/1.json`), await statuses(`${box.dir}/2.json`)];
  assertEquals([one.once, two.once], ["ran", "cached"]);
  // `after` runs in whichever process takes its lock first, never in both.
  assertEquals([one.after, two.after].sort(), ["cached", "ran"]);
  assertEquals((await box.objects()).length, 2);
});
