/**
 * The ARB trainer module's public API, usable without the pipeline.
 *
 * @example
 * import { buildEncoder, buildProjector, losses, pretrain, selectBackend } from "./arb/mod.ts";
 * await selectBackend("auto");
 */
export { tf } from "./tf.ts";
export { Rng, type RngState } from "./rng.ts";
export {
  BACKEND_PREFERENCES,
  type BackendChoice,
  type BackendPreference,
  selectBackend,
} from "./backend.ts";
export { losses, type LossFn, type MethodState, methodStates } from "./losses/mod.ts";
export {
  buildEncoder,
  buildProjector,
  type Encoder,
  ENCODER_ARCHS,
  type EncoderSpec,
  type Projector,
} from "./models/mod.ts";
export {
  type BatchSource,
  defaultLr,
  pretrain,
  type PretrainOptions,
  type PretrainResult,
  type StepReport,
  type ViewMaker,
} from "./train.ts";
export {
  loadEncoder,
  loadTrainingCheckpoint,
  saveEncoder,
  saveTrainingCheckpoint,
} from "./checkpoint.ts";
export { readSafetensors, writeSafetensors } from "./safetensors.ts";
