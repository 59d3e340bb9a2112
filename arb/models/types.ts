/** Model interfaces shared by the encoders, the projector, the trainer and checkpoints. */
import type { tf } from "../tf.ts";

/** Which encoder to build (see `docs/contracts.md`). */
export interface EncoderSpec {
  arch: "resnet18" | "resnet50" | "convnet";
  /** `cifar`: 3x3 stride-1 first conv, no max-pool; `imagenet`: 7x7 stride-2 conv + max-pool. */
  stem: "cifar" | "imagenet";
  inChannels: number;
  /** Base width: 64 for the ResNets (torchvision), 16 for the convnet, when omitted. */
  width?: number;
}

/** A model made of named variables, applied functionally. */
export interface Model {
  /** Trainable variables (tfjs names `<prefix><torchvision name>`, unique). */
  variables: tf.Variable[];
  /** Output feature dimension. */
  featureDim: number;
  /** Weights and buffers by torchvision name (tfjs layouts); the caller disposes them. */
  state(): Record<string, tf.Tensor>;
  /** Loads `state()` output (exact names and shapes); the caller keeps `state`. */
  load(state: Record<string, tf.Tensor>): void;
  /** torchvision-style name of one of `variables`. */
  localName(v: tf.Variable): string;
  /** Number of trainable scalars. */
  paramCount: number;
  /** Frees every variable. */
  dispose(): void;
}

/** An image encoder: NHWC images to N x featureDim features. */
export interface Encoder extends Model {
  spec: EncoderSpec;
  /** Features of a batch; `training` uses batch statistics and updates BN running stats. */
  apply(x: tf.Tensor4D, training: boolean): tf.Tensor2D;
}

/** The projector MLP: features to embeddings. */
export interface Projector extends Model {
  /** The spec string it was built from, e.g. `2048-2048-256`. */
  spec: string;
  inDim: number;
  apply(x: tf.Tensor2D, training: boolean): tf.Tensor2D;
}
