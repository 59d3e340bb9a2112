/**
 * Saving and restoring the linear probe's state after an epoch (weights, bias, momentum,
 * history), so a long linear evaluation resumes where a crash stopped it.
 */
import { join } from "node:path";
import type { ProbeState } from "./linear.ts";

/** Files of a saved probe state. */
export const PROBE_FILES = { tensors: "probe.f32", info: "probe.json" };

interface ProbeInfo {
  format: 1;
  epoch: number;
  /** Float counts of the concatenated arrays in `probe.f32`, in this order. */
  lengths: { weight: number; bias: number; momentumWeight: number; momentumBias: number };
  history: ProbeState["history"];
  /** What the state belongs to; a state for other settings is ignored. */
  fingerprint: string;
}

/** Writes `state` into `dir` (tensors first, then the info file that makes it valid). */
export async function saveProbeState(
  dir: string,
  state: ProbeState,
  fingerprint: string,
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const parts = [
    state.weight,
    state.bias,
    state.momentum.weight ?? new Float32Array(0),
    state.momentum.bias ?? new Float32Array(0),
  ];
  const all = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    all.set(p, off);
    off += p.length;
  }
  const info: ProbeInfo = {
    format: 1,
    epoch: state.epoch,
    lengths: {
      weight: parts[0].length,
      bias: parts[1].length,
      momentumWeight: parts[2].length,
      momentumBias: parts[3].length,
    },
    history: state.history,
    fingerprint,
  };
  const tag = `${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  const tensors = join(dir, PROBE_FILES.tensors);
  const infoPath = join(dir, PROBE_FILES.info);
  // The info file goes first out of the way, so a crash between the two renames never pairs
  // new tensors with an old info file.
  await Deno.remove(infoPath).catch(() => {});
  await Deno.writeFile(`${tensors}.tmp-${tag}`, new Uint8Array(all.buffer));
  await Deno.rename(`${tensors}.tmp-${tag}`, tensors);
  await Deno.writeTextFile(`${infoPath}.tmp-${tag}`, JSON.stringify(info));
  await Deno.rename(`${infoPath}.tmp-${tag}`, infoPath);
}

/** Reads a state saved for the same `fingerprint`, or null (absent, other settings, or torn). */
export async function loadProbeState(dir: string, fingerprint: string): Promise<ProbeState | null> {
  let info: ProbeInfo;
  try {
    info = JSON.parse(await Deno.readTextFile(join(dir, PROBE_FILES.info)));
  } catch {
    return null;
  }
  if (info.format !== 1 || info.fingerprint !== fingerprint) return null;
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(join(dir, PROBE_FILES.tensors));
  } catch {
    return null;
  }
  const { weight, bias, momentumWeight, momentumBias } = info.lengths;
  if (bytes.length !== 4 * (weight + bias + momentumWeight + momentumBias)) return null;
  const all = new Float32Array(bytes.slice().buffer);
  let off = 0;
  const take = (n: number) => all.slice(off, off += n);
  const w = take(weight);
  const b = take(bias);
  const mw = take(momentumWeight);
  const mb = take(momentumBias);
  return {
    epoch: info.epoch,
    weight: w,
    bias: b,
    momentum: {
      ...(mw.length ? { weight: mw } : {}),
      ...(mb.length ? { bias: mb } : {}),
    },
    history: info.history,
  };
}
