/**
 * The small convnet for 28x28 grayscale images (the CI workload): four 3x3 conv + BN + ReLU
 * layers with widths w, 2w, 4w, 8w (w = 16 by default), the last three with stride 2
 * (28 -> 14 -> 7 -> 4), then global average pooling: an 8w-dimensional feature (128).
 * About 3.1 M multiply-adds per 28x28 image at w = 16 (12.4 M at w = 32), so the wasm backend
 * trains it at a few hundred images per second; `width` scales it up.
 * Names follow the torchvision convention (`conv1.weight`, `bn1.running_mean`, ...).
 */
import { tf } from "../tf.ts";
import type { Rng } from "../rng.ts";
import { ParamStore } from "./params.ts";
import { convBn, declareBatchNorm, declareConv } from "./layers.ts";
import type { Encoder, EncoderSpec } from "./types.ts";

/** Builds the small convnet encoder (see module doc). */
export function buildConvNet(spec: EncoderSpec, rng: Rng): Encoder {
  const w = spec.width ?? 16;
  const widths = [w, 2 * w, 4 * w, 8 * w];
  const strides = [1, 2, 2, 2];
  const store = new ParamStore("encoder");
  let cin = spec.inChannels;
  widths.forEach((c, i) => {
    declareConv(store, rng, `conv${i + 1}`, 3, cin, c);
    declareBatchNorm(store, `bn${i + 1}`, c);
    cin = c;
  });
  const apply = (x: tf.Tensor4D, training: boolean): tf.Tensor2D =>
    tf.tidy(() => {
      if (x.shape[3] !== spec.inChannels) {
        throw new Error(`encoder expects ${spec.inChannels} channels, got input ${x.shape}`);
      }
      let h = x;
      for (let i = 0; i < widths.length; i++) {
        h = convBn(store, `conv${i + 1}`, `bn${i + 1}`, h, strides[i], 1, training, true);
      }
      return tf.mean(h, [1, 2]) as tf.Tensor2D;
    });
  return {
    spec,
    featureDim: widths[3],
    apply,
    ...store.modelMembers(),
  };
}
