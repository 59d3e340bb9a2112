/**
 * ResNet-18 and ResNet-50 as torchvision builds them (v1.5: stride on the 3x3 conv of a
 * bottleneck), without the final fc layer: the encoder outputs the pooled features (512 or
 * 2048). Variable names match torchvision's `state_dict` so exported weights load into
 * `torchvision.models.resnet18` (with `conv1` replaced by a 3x3 conv and `maxpool` by Identity
 * for the CIFAR stem). `zero_init_residual=True`: the last BN gamma of every block starts at 0.
 */
import { tf } from "../tf.ts";
import type { Rng } from "../rng.ts";
import { ParamStore } from "./params.ts";
import { addRelu, convBn, declareBatchNorm, declareConv } from "./layers.ts";
import type { Encoder, EncoderSpec } from "./types.ts";

interface Block {
  name: string;
  stride: number;
  inC: number;
  planes: number;
  downsample: boolean;
}

const LAYOUTS = {
  resnet18: { blocks: [2, 2, 2, 2], bottleneck: false },
  resnet50: { blocks: [3, 4, 6, 3], bottleneck: true },
} as const;

/** Builds a ResNet encoder (see module doc). */
export function buildResNet(spec: EncoderSpec, rng: Rng): Encoder {
  if (spec.arch !== "resnet18" && spec.arch !== "resnet50") {
    throw new Error(`buildResNet: unsupported arch ${spec.arch}`);
  }
  const { blocks, bottleneck } = LAYOUTS[spec.arch];
  const expansion = bottleneck ? 4 : 1;
  const width = spec.width ?? 64;
  const store = new ParamStore("encoder");
  const stemK = spec.stem === "cifar" ? 3 : 7;
  declareConv(store, rng, "conv1", stemK, spec.inChannels, width);
  declareBatchNorm(store, "bn1", width);
  const plan: Block[] = [];
  let inC = width;
  blocks.forEach((count, li) => {
    const planes = width * 2 ** li;
    for (let bi = 0; bi < count; bi++) {
      const stride = bi === 0 && li > 0 ? 2 : 1;
      const block: Block = {
        name: `layer${li + 1}.${bi}`,
        stride,
        inC,
        planes,
        downsample: stride !== 1 || inC !== planes * expansion,
      };
      declareBlock(store, rng, block, bottleneck);
      plan.push(block);
      inC = planes * expansion;
    }
  });
  const featureDim = inC;

  const apply = (x: tf.Tensor4D, training: boolean): tf.Tensor2D =>
    tf.tidy(() => {
      if (x.shape[3] !== spec.inChannels) {
        throw new Error(`encoder expects ${spec.inChannels} channels, got input ${x.shape}`);
      }
      let h = spec.stem === "cifar"
        ? convBn(store, "conv1", "bn1", x, 1, 1, training, true)
        : convBn(store, "conv1", "bn1", x, 2, 3, training, true);
      if (spec.stem === "imagenet") h = tf.maxPool(h, 3, 2, 1);
      for (const b of plan) h = applyBlock(store, b, h, training, bottleneck);
      return tf.mean(h, [1, 2]) as tf.Tensor2D;
    });

  return {
    spec,
    featureDim,
    apply,
    ...store.modelMembers(),
  };
}

function declareBlock(store: ParamStore, rng: Rng, b: Block, bottleneck: boolean): void {
  const n = b.name;
  if (bottleneck) {
    declareConv(store, rng, `${n}.conv1`, 1, b.inC, b.planes);
    declareBatchNorm(store, `${n}.bn1`, b.planes);
    declareConv(store, rng, `${n}.conv2`, 3, b.planes, b.planes);
    declareBatchNorm(store, `${n}.bn2`, b.planes);
    declareConv(store, rng, `${n}.conv3`, 1, b.planes, b.planes * 4);
    declareBatchNorm(store, `${n}.bn3`, b.planes * 4, 0);
  } else {
    declareConv(store, rng, `${n}.conv1`, 3, b.inC, b.planes);
    declareBatchNorm(store, `${n}.bn1`, b.planes);
    declareConv(store, rng, `${n}.conv2`, 3, b.planes, b.planes);
    declareBatchNorm(store, `${n}.bn2`, b.planes, 0);
  }
  if (b.downsample) {
    const out = b.planes * (bottleneck ? 4 : 1);
    declareConv(store, rng, `${n}.downsample.0`, 1, b.inC, out);
    declareBatchNorm(store, `${n}.downsample.1`, out);
  }
}

function applyBlock(
  store: ParamStore,
  b: Block,
  x: tf.Tensor4D,
  training: boolean,
  bottleneck: boolean,
): tf.Tensor4D {
  const n = b.name;
  let h: tf.Tensor4D;
  if (bottleneck) {
    h = convBn(store, `${n}.conv1`, `${n}.bn1`, x, 1, 0, training, true);
    h = convBn(store, `${n}.conv2`, `${n}.bn2`, h, b.stride, 1, training, true);
    h = convBn(store, `${n}.conv3`, `${n}.bn3`, h, 1, 0, training, false);
  } else {
    h = convBn(store, `${n}.conv1`, `${n}.bn1`, x, b.stride, 1, training, true);
    h = convBn(store, `${n}.conv2`, `${n}.bn2`, h, 1, 1, training, false);
  }
  const identity = b.downsample
    ? convBn(store, `${n}.downsample.0`, `${n}.downsample.1`, x, b.stride, 0, training, false)
    : x;
  return addRelu(h, identity);
}
