/**
 * Backend selection, and training on WebGPU: a small conv + BN-free model's gradients on
 * WebGPU match the cpu backend (skipped with a message where no adapter exists).
 */
import { tf } from "../arb/tf.ts";
import { requestWebgpuAdapter, selectBackend } from "../arb/backend.ts";
import { Rng } from "../arb/rng.ts";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "./assert.ts";

const quiet = { log: () => {} };

Deno.test("explicit wasm and cpu are selected and reported", async () => {
  const logs: string[] = [];
  const w = await selectBackend("wasm", { log: (m) => logs.push(m) });
  assertEquals(w.backend, "wasm");
  assertEquals(tf.getBackend(), "wasm");
  assertStringIncludes(logs[0], "backend: wasm");
  const c = await selectBackend("cpu", quiet);
  assertEquals([c.backend, tf.getBackend()], ["cpu", "cpu"]);
});

Deno.test("auto never picks a fallback WebGPU adapter and says why, in one short line", async () => {
  const logs: string[] = [];
  const choice = await selectBackend("auto", { log: (m) => logs.push(m), verbose: false });
  assert(["tensorflow", "webgpu", "wasm", "cpu"].includes(choice.backend), choice.backend);
  assertEquals(tf.getBackend(), choice.backend);
  assertStringIncludes(choice.reason, "tensorflow unavailable");
  if (choice.backend === "webgpu") assert(!choice.device.includes("fallback"), choice.device);
  assertEquals(logs.length, 1, `one line: ${logs}`);
  assert(logs[0].length < 160, `short: ${logs[0]}`);
  assertStringIncludes(logs[0], `backend: ${choice.backend} (`);
  assertStringIncludes(logs[0], "tensorflow: not installed");
  const verbose: string[] = [];
  await selectBackend("auto", { log: (m) => verbose.push(m), verbose: true });
  assertEquals(verbose.length, 2);
  assertStringIncludes(verbose[1], "tensorflow unavailable (");
});

Deno.test("the WebGPU probe prints nothing on stderr (no XDG_RUNTIME_DIR noise)", async () => {
  const env = Deno.env.toObject();
  delete env.XDG_RUNTIME_DIR;
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { selectBackend } from "${new URL("../arb/backend.ts", import.meta.url)}";` +
      `await selectBackend("auto", { log: (m) => console.log(m) });`,
    ],
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert(out.success, stderr);
  assert(!stderr.includes("XDG_RUNTIME_DIR"), `stderr: ${stderr}`);
  assertStringIncludes(new TextDecoder().decode(out.stdout), "backend: ");
});

Deno.test("an unavailable explicit backend is an error saying how to get it", async () => {
  await assertRejects(
    () => selectBackend("tensorflow", quiet),
    "deno add npm:@tensorflow/tfjs-node",
  );
  await assertRejects(
    () => selectBackend("metal" as "cpu", quiet),
    "choose one of auto, tensorflow, webgpu, wasm, cpu",
  );
});

async function hasAdapter(): Promise<boolean> {
  return Boolean(await requestWebgpuAdapter().catch(() => null));
}

/** Gradients of a two-conv + dense model (loss: mean square of outputs) on `backend`. */
async function smallModelGrads(backend: string): Promise<Float32Array[]> {
  await selectBackend(backend as "cpu", quiet);
  const rng = new Rng(11);
  const t = (shape: number[], scale = 1) =>
    tf.tensor(
      Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => rng.normal() * scale),
      shape,
    );
  const x = t([4, 8, 8, 2]);
  const w1 = t([3, 3, 2, 4], 0.3), w2 = t([3, 3, 4, 6], 0.3), d = t([6, 3], 0.3);
  const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => {
    const h1 = tf.relu(tf.conv2d(x as tf.Tensor4D, a as tf.Tensor4D, 1, "same"));
    const h2 = tf.relu(tf.conv2d(h1, b as tf.Tensor4D, 2, [[0, 0], [1, 1], [1, 1], [0, 0]]));
    const pooled = tf.mean(h2, [1, 2]);
    return tf.mean(tf.square(tf.matMul(pooled, c)));
  };
  const grads = tf.grads(f)([w1, w2, d]);
  const out = await Promise.all(grads.map(async (g) => (await g.data()) as Float32Array));
  tf.dispose([x, w1, w2, d, ...grads]);
  return out;
}

Deno.test("WebGPU gradients of a small conv model match cpu", async () => {
  if (!(await hasAdapter())) {
    console.log("skipped: no WebGPU adapter on this machine (install mesa-vulkan-drivers)");
    return;
  }
  const ref = await smallModelGrads("cpu");
  const got = await smallModelGrads("webgpu");
  for (let i = 0; i < ref.length; i++) {
    let num = 0, den = 0;
    for (let j = 0; j < ref[i].length; j++) {
      num = Math.max(num, Math.abs(got[i][j] - ref[i][j]));
      den = Math.max(den, Math.abs(ref[i][j]));
    }
    assert(num / den <= 1e-4, `gradient ${i}: relative error ${num / den}`);
  }
  await selectBackend("cpu", quiet);
});

Deno.test("wasm with 2 threads starts under Deno and gives bitwise the single-thread results (conv, batch norm)", async () => {
  const run = async (threads: string) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("./fixtures/wasm_threads_probe.ts", import.meta.url).pathname],
      env: { ARB_WASM_THREADS: threads },
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
    assert(out.success, `probe failed: ${new TextDecoder().decode(out.stderr)}`);
    return JSON.parse(text) as {
      device: string;
      simd: boolean;
      parallel: boolean;
      digest: string;
    };
  };
  const one = await run("1"), two = await run("2");
  assertStringIncludes(one.device, "1 thread");
  assertStringIncludes(two.device, "2 threads");
  assert(one.simd && two.simd, "SIMD loops bound to both builds' memory");
  assert(two.parallel && !one.parallel, "the SIMD helper thread runs on the threaded build only");
  assertEquals(two.digest, one.digest);
});
