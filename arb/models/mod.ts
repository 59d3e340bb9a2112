/**
 * Model builders: `buildEncoder(spec, rng)` (ResNet-18/50, small convnet) and
 * `buildProjector(spec, inDim, rng)`; see `docs/contracts.md`.
 */
import type { Rng } from "../rng.ts";
import { buildConvNet } from "./convnet.ts";
import { buildResNet } from "./resnet.ts";
import type { Encoder, EncoderSpec } from "./types.ts";

export type { Encoder, EncoderSpec, Model, Projector } from "./types.ts";
export { buildProjector, parseProjectorSpec, type ProjectorOptions } from "./projector.ts";
export { flopCounter } from "./layers.ts";

/** Accepted encoder architectures. */
export const ENCODER_ARCHS = ["resnet18", "resnet50", "convnet"] as const;

/**
 * Builds an encoder with weights drawn from `rng`.
 *
 * @example
 * const enc = buildEncoder({ arch: "resnet18", stem: "cifar", inChannels: 3 }, new Rng(0));
 * const feats = enc.apply(images, true); // N x 512
 */
export function buildEncoder(spec: EncoderSpec, rng: Rng): Encoder {
  if (!ENCODER_ARCHS.includes(spec.arch)) {
    throw new Error(
      `unknown encoder arch "${spec.arch}": choose one of ${ENCODER_ARCHS.join(", ")}`,
    );
  }
  if (!Number.isInteger(spec.inChannels) || spec.inChannels <= 0) {
    throw new Error(`encoder inChannels must be a positive integer, got ${spec.inChannels}`);
  }
  if (spec.width !== undefined && (!Number.isInteger(spec.width) || spec.width <= 0)) {
    throw new Error(`encoder width must be a positive integer, got ${spec.width}`);
  }
  return spec.arch === "convnet" ? buildConvNet(spec, rng) : buildResNet(spec, rng);
}
