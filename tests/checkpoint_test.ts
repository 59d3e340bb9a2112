/**
 * safetensors format (hand-checked bytes, round trips, bad files), encoder export in PyTorch
 * layouts and its reload, and training checkpoints.
 */
import { tf } from "../arb/tf.ts";
import { Rng } from "../arb/rng.ts";
import { buildEncoder } from "../arb/models/mod.ts";
import {
  loadEncoder,
  loadTrainingCheckpoint,
  saveEncoder,
  saveTrainingCheckpoint,
} from "../arb/checkpoint.ts";
import { decodeSafetensors, encodeSafetensors, readSafetensors } from "../arb/safetensors.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "./assert.ts";

await tf.setBackend("wasm");

Deno.test("safetensors bytes: header length, padded JSON header, little-endian data", () => {
  const bytes = encodeSafetensors({
    a: { dtype: "F32", shape: [2], data: new Float32Array([1, -2]) },
    n: { dtype: "I64", shape: [], data: new BigInt64Array([5n]) },
  }, { k: "v" });
  const view = new DataView(bytes.buffer);
  const n = Number(view.getBigUint64(0, true));
  assertEquals(n % 8, 0);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  assertEquals(header, {
    __metadata__: { k: "v" },
    a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
    n: { dtype: "I64", shape: [], data_offsets: [8, 16] },
  });
  assertEquals(view.getFloat32(8 + n, true), 1);
  assertEquals(view.getFloat32(8 + n + 4, true), -2);
  assertEquals(view.getBigInt64(8 + n + 8, true), 5n);
  const back = decodeSafetensors(bytes);
  assertEquals(back.metadata, { k: "v" });
  assertEquals([...back.tensors.a.data as Float32Array], [1, -2]);
  assertEquals([...back.tensors.n.data as BigInt64Array], [5n]);
});

Deno.test("bad safetensors files fail naming the file and the problem", () => {
  assertThrows(() => decodeSafetensors(new Uint8Array(3), "x.safetensors"), "x.safetensors");
  const bytes = encodeSafetensors({ a: { dtype: "F32", shape: [4], data: new Float32Array(4) } });
  assertThrows(() => decodeSafetensors(bytes.subarray(0, bytes.length - 4), "y"), "data_offsets");
  const big = new Uint8Array(16);
  new DataView(big.buffer).setBigUint64(0, 1000n, true);
  assertThrows(() => decodeSafetensors(big, "z"), "header length 1000 exceeds");
});

Deno.test("encoder export: PyTorch layouts and names, reload gives the same eval outputs", async () => {
  const dir = await Deno.makeTempDir();
  const enc = buildEncoder(
    { arch: "resnet18", stem: "cifar", inChannels: 3, width: 8 },
    new Rng(2),
  );
  try {
    const x = tf.randomUniform([2, 16, 16, 3], 0, 1, "float32", 1) as tf.Tensor4D;
    enc.apply(x, true).dispose(); // moves the BN running stats away from their init
    await saveEncoder(dir, enc, { method: "arb" });
    const { tensors, metadata } = await readSafetensors(`${dir}/encoder.safetensors`);
    assertEquals(metadata.format, "pt");
    assertEquals(tensors["conv1.weight"].shape, [8, 3, 3, 3]); // OIHW
    assertEquals(tensors["layer2.0.downsample.0.weight"].shape, [16, 8, 1, 1]);
    assertEquals(tensors["layer1.0.bn1.num_batches_tracked"].dtype, "I64");
    assertEquals([...tensors["layer1.0.bn1.num_batches_tracked"].data as BigInt64Array], [1n]);
    // OIHW element [o, i, h, w] equals our HWIO [h, w, i, o].
    const st = enc.state();
    const ours = await st["conv1.weight"].array() as number[][][][];
    tf.dispose(Object.values(st));
    const pt = tensors["conv1.weight"].data as Float32Array;
    assertEquals(pt[((5 * 3 + 2) * 3 + 1) * 3 + 0], ours[1][0][2][5]);
    const info = JSON.parse(await Deno.readTextFile(`${dir}/encoder.json`));
    assertEquals(info.method, "arb");
    assertEquals(info.spec.arch, "resnet18");
    const back = await loadEncoder(dir);
    const a = await enc.apply(x, false).data(), b = await back.apply(x, false).data();
    assertEquals(b, a);
    back.dispose();
    x.dispose();
  } finally {
    enc.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadEncoder refuses weights that do not fit the spec", async () => {
  const dir = await Deno.makeTempDir();
  const enc = buildEncoder({ arch: "convnet", stem: "cifar", inChannels: 1, width: 4 }, new Rng(0));
  try {
    await saveEncoder(dir, enc);
    const info = JSON.parse(await Deno.readTextFile(`${dir}/encoder.json`));
    info.spec.width = 8;
    await Deno.writeTextFile(`${dir}/encoder.json`, JSON.stringify(info));
    await assertRejects(() => loadEncoder(dir), "encoder.safetensors: conv1.weight: shape");
    await assertRejects(() => loadEncoder(`${dir}/missing`), "cannot read encoder info");
  } finally {
    enc.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("training checkpoint round trip keeps tensors, dtypes and info; none gives null", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assertEquals(await loadTrainingCheckpoint(dir), null);
    const a = tf.tensor2d([[1, 2], [3, 4]]), n = tf.scalar(7, "int32");
    await saveTrainingCheckpoint(dir, { encoder: { "conv1.weight": a, nbt: n } }, {
      epoch: 3,
      rng: [1, 2, 3, 4],
    });
    const ck = await loadTrainingCheckpoint(dir);
    assert(ck !== null);
    assertEquals(ck.info, { epoch: 3, rng: [1, 2, 3, 4] });
    assertEquals(await ck.parts.encoder["conv1.weight"].array(), [[1, 2], [3, 4]]);
    assertEquals(ck.parts.encoder.nbt.dtype, "int32");
    assertEquals(JSON.parse(await Deno.readTextFile(`${dir}/checkpoint.json`)).epoch, 3);
    const leftovers = [...Deno.readDirSync(dir)].map((e) => e.name).filter((f) =>
      f.includes("tmp")
    );
    assertEquals(leftovers, []);
    tf.dispose([a, n, ...Object.values(ck.parts.encoder)]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
