/**
 * The one tfjs namespace the whole project uses. Import `tf` from here, never from
 * `@tensorflow/tfjs` directly, so that kernels we register and the backend we select apply
 * to every caller.
 *
 * The union package is imported (not tfjs-core alone) because only it registers the
 * gradients; the wasm backend is registered as a side effect of its import, and our training
 * kernels for it (`arb/kernels/`) right after, before the backend initialises.
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { registerTrainingKernels } from "./kernels/mod.ts";

registerTrainingKernels();

export { tf };
