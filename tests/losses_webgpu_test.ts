/**
 * The baseline losses on WebGPU agree with cpu at sizes past the backend's hand-off of small
 * tensors to the CPU (N = 128, D = 32). WebGPU under Deno cannot read tensors synchronously, so
 * this also checks that no loss needs to (W-MSE factorises on the device there). Skipped, saying why, where the WebGPU backend package is not
 * in the import map or no adapter exists.
 */
import { tf } from "../arb/tf.ts";
import { Rng } from "../arb/rng.ts";
import { losses, methodStates } from "../arb/losses/mod.ts";
import { assert, assertAlmostEquals } from "./assert.ts";
import { relativeError } from "./reference64.ts";

async function webgpuAvailable(): Promise<string | null> {
  const gpu = (navigator as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  if (!gpu || !(await gpu.requestAdapter())) return "no WebGPU adapter";
  const specifier = "@tensorflow/tfjs-backend-webgpu"; // not analysable: optional dependency
  try {
    await import(specifier);
  } catch (e) {
    return `${specifier} not importable (${(e as Error).message.split("\n")[0]})`;
  }
  return tf.findBackend("webgpu") || (await tf.setBackend("webgpu")) ? null : "backend missing";
}

Deno.test("baseline losses on webgpu match cpu (N = 128, D = 32)", async () => {
  const why = await webgpuAvailable();
  if (why) {
    console.log(`skipped: ${why}`);
    return;
  }
  const rng = new Rng(30);
  const z1a = Array.from({ length: 128 * 32 }, () => rng.normal());
  const z2a = z1a.map((v) => v + 0.3 * rng.normal());
  const names = ["simclr", "vicreg", "wmse", "swav"];
  const run = async (backend: string) => {
    await tf.setBackend(backend);
    const z1 = tf.tensor2d(z1a, [128, 32]);
    const z2 = tf.tensor2d(z2a, [128, 32]);
    const state = methodStates.swav({
      projectorDim: 32,
      rng: new Rng(1),
      params: { num_prototypes: 100 },
    });
    const options: Record<string, Record<string, unknown>> = {
      simclr: {},
      vicreg: {},
      wmse: { w_size: 64, rng: new Rng(3) },
      swav: state.lossOptions({ epoch: 0, step: 0 }),
    };
    const out = [];
    for (const name of names) {
      const f = (a: tf.Tensor, b: tf.Tensor) =>
        losses[name](a as tf.Tensor2D, b as tf.Tensor2D, options[name]);
      const { value, grads } = tf.valueAndGrads(f)([z1, z2]);
      out.push({ value: (await value.data())[0], grad: await grads[0].data() });
      tf.dispose([value, ...grads]);
    }
    tf.dispose([z1, z2]);
    state.dispose();
    return out;
  };
  const cpu = await run("cpu");
  try {
    const gpu = await run("webgpu");
    names.forEach((name, i) => {
      assertAlmostEquals(gpu[i].value, cpu[i].value, 1e-4 * Math.abs(cpu[i].value), `${name}`);
      assert(relativeError(gpu[i].grad, cpu[i].grad) < 1e-3, `${name} gradient`);
    });
  } finally {
    await tf.setBackend("cpu");
  }
});
