/**
 * Checkpoints as safetensors files.
 *
 * - Encoder export (`saveEncoder` / `loadEncoder`): `encoder.safetensors` in PyTorch layouts
 *   (conv weights OIHW, linear weights out x in) under torchvision names, with
 *   `num_batches_tracked` as I64, so `torchvision.models.resnet18()` with the CIFAR stem
 *   (`conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)`, `maxpool = nn.Identity()`, `fc =
 *   nn.Identity()`) loads it with `load_state_dict(safetensors.torch.load_file(path))`; plus
 *   `encoder.json` ({ spec, featureDim, ... }).
 * - Training checkpoints (`saveTrainingCheckpoint` / `loadTrainingCheckpoint`): every tensor
 *   of the run (model, projector, optimiser, method state) in tfjs layouts, keyed
 *   `<part>/<name>`, and the run's JSON state (epoch, step, RNG, ...) inside the same file's
 *   metadata, so one atomic rename commits all of it; `checkpoint.json` is a readable copy.
 */
import { tf } from "./tf.ts";
import { Rng } from "./rng.ts";
import { buildEncoder, type Encoder, type EncoderSpec } from "./models/mod.ts";
import { writeFileAtomic } from "./atomic.ts";
import { type HostTensor, readSafetensors, writeSafetensors } from "./safetensors.ts";

/** File names inside an encoder export folder. */
export const ENCODER_FILES = { weights: "encoder.safetensors", info: "encoder.json" };
/** File names inside a training-state folder. */
export const CHECKPOINT_FILES = { tensors: "checkpoint.safetensors", info: "checkpoint.json" };

/** Reads tensors to host arrays; `torch` converts to PyTorch layouts (see module doc). */
export async function tensorsToHost(
  state: Record<string, tf.Tensor>,
  layout: "tfjs" | "torch",
): Promise<Record<string, HostTensor>> {
  const out: Record<string, HostTensor> = {};
  for (const [name, t] of Object.entries(state)) {
    const perm = layout === "torch" ? torchPerm(t.rank) : null;
    const src = perm ? tf.transpose(t, perm) : t;
    const values = await src.data();
    if (src !== t) src.dispose();
    if (t.dtype === "float32") {
      out[name] = { dtype: "F32", shape: src.shape, data: values as Float32Array };
    } else if (t.dtype === "int32") {
      const int64 = layout === "torch";
      out[name] = int64
        ? { dtype: "I64", shape: src.shape, data: BigInt64Array.from(values as Int32Array, BigInt) }
        : { dtype: "I32", shape: src.shape, data: values as Int32Array };
    } else {
      throw new Error(`cannot checkpoint ${name}: dtype ${t.dtype}`);
    }
  }
  return out;
}

/** Host arrays back to tensors; `torch` converts from PyTorch layouts. The caller disposes. */
export function hostToTensors(
  host: Record<string, HostTensor>,
  layout: "tfjs" | "torch",
  source: string,
): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const [name, h] of Object.entries(host)) {
    let t: tf.Tensor;
    if (h.dtype === "F32" || h.dtype === "F64") {
      t = tf.tensor(Float32Array.from(h.data as Float32Array), h.shape, "float32");
    } else if (h.dtype === "I32" || h.dtype === "I64") {
      const ints = h.dtype === "I64"
        ? Int32Array.from(h.data as BigInt64Array, (v) => {
          if (v > 2147483647n || v < -2147483648n) {
            throw new Error(`${source}: ${name} value ${v} does not fit int32`);
          }
          return Number(v);
        })
        : (h.data as Int32Array);
      t = tf.tensor(ints, h.shape, "int32");
    } else {
      throw new Error(`${source}: ${name} has dtype ${h.dtype}, which models do not use`);
    }
    const perm = layout === "torch" ? torchPerm(h.shape.length, true) : null;
    if (perm) {
      const p = tf.transpose(t, perm);
      t.dispose();
      t = p;
    }
    out[name] = t;
  }
  return out;
}

/** Permutation between tfjs and PyTorch layouts for a weight of rank r (null: none). */
function torchPerm(rank: number, inverse = false): number[] | null {
  if (rank === 4) return inverse ? [2, 3, 1, 0] : [3, 2, 0, 1]; // HWIO <-> OIHW
  if (rank === 2) return [1, 0]; // [in, out] <-> [out, in]
  return null;
}

/**
 * Exports an encoder to `dir` (created if needed): `encoder.safetensors` in PyTorch layouts and
 * `encoder.json` with its spec and `extra` (method, dataset, epochs, backend...).
 */
export async function saveEncoder(
  dir: string,
  encoder: Encoder,
  extra: Record<string, unknown> = {},
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const state = encoder.state();
  try {
    const host = await tensorsToHost(state, "torch");
    await writeSafetensors(`${dir}/${ENCODER_FILES.weights}`, host, {
      format: "pt",
      arb_encoder_spec: JSON.stringify(encoder.spec),
    });
  } finally {
    tf.dispose(Object.values(state));
  }
  const info = {
    ...extra,
    spec: encoder.spec,
    featureDim: encoder.featureDim,
    paramCount: encoder.paramCount,
    layout: "pytorch (conv OIHW, linear out x in), torchvision names",
  };
  await writeFileAtomic(
    `${dir}/${ENCODER_FILES.info}`,
    new TextEncoder().encode(JSON.stringify(info, null, 2) + "\n"),
  );
}

/** Loads an encoder exported by `saveEncoder`; use it with `apply(x, false)` (eval mode). */
export async function loadEncoder(dir: string): Promise<Encoder> {
  const infoPath = `${dir}/${ENCODER_FILES.info}`;
  let info: { spec?: EncoderSpec };
  try {
    info = JSON.parse(await Deno.readTextFile(infoPath));
  } catch (e) {
    throw new Error(`cannot read encoder info ${infoPath}: ${(e as Error).message}`);
  }
  if (!info.spec || typeof info.spec !== "object") {
    throw new Error(`${infoPath}: no "spec" field: not an encoder export`);
  }
  const weightsPath = `${dir}/${ENCODER_FILES.weights}`;
  const { tensors } = await readSafetensors(weightsPath);
  const encoder = buildEncoder(info.spec, new Rng(0));
  const state = hostToTensors(tensors, "torch", weightsPath);
  try {
    encoder.load(state);
  } catch (e) {
    encoder.dispose();
    throw new Error(`${weightsPath}: ${(e as Error).message}`);
  } finally {
    tf.dispose(Object.values(state));
  }
  return encoder;
}

/** The JSON side of a training checkpoint (anything serialisable). */
export type CheckpointInfo = Record<string, unknown>;

/**
 * Writes a training checkpoint to `dir`: `parts` maps a part name (`encoder`, `projector`,
 * `optimizer`, `method`) to its tensors; `info` (epoch, step, RNG state...) goes into the same
 * file's metadata. One atomic rename commits it; a crash leaves the previous one intact.
 */
export async function saveTrainingCheckpoint(
  dir: string,
  parts: Record<string, Record<string, tf.Tensor>>,
  info: CheckpointInfo,
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const host: Record<string, HostTensor> = {};
  for (const [part, tensors] of Object.entries(parts)) {
    for (const [name, t] of Object.entries(await tensorsToHost(tensors, "tfjs"))) {
      host[`${part}/${name}`] = t;
    }
  }
  const text = JSON.stringify(info);
  await writeSafetensors(`${dir}/${CHECKPOINT_FILES.tensors}`, host, { arb_checkpoint: text });
  await writeFileAtomic(
    `${dir}/${CHECKPOINT_FILES.info}`,
    new TextEncoder().encode(JSON.stringify(info, null, 2) + "\n"),
  );
}

/** Reads the training checkpoint in `dir`, or null when there is none. The caller disposes. */
export async function loadTrainingCheckpoint(
  dir: string,
): Promise<{ parts: Record<string, Record<string, tf.Tensor>>; info: CheckpointInfo } | null> {
  const path = `${dir}/${CHECKPOINT_FILES.tensors}`;
  try {
    await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  const { tensors, metadata } = await readSafetensors(path);
  if (typeof metadata.arb_checkpoint !== "string") {
    throw new Error(`${path}: no arb_checkpoint metadata: not a training checkpoint`);
  }
  const info = JSON.parse(metadata.arb_checkpoint) as CheckpointInfo;
  const all = hostToTensors(tensors, "tfjs", path);
  const parts: Record<string, Record<string, tf.Tensor>> = {};
  for (const [key, t] of Object.entries(all)) {
    const slash = key.indexOf("/");
    if (slash < 0) throw new Error(`${path}: tensor ${key} has no "<part>/" prefix`);
    (parts[key.slice(0, slash)] ??= {})[key.slice(slash + 1)] = t;
  }
  return { parts, info };
}
