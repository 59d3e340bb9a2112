/**
 * Linear algebra tfjs lacks: symmetric eigensolvers (host float64), inverse square roots
 * (host eigh or device Newton-Schulz), the grouped ZCA whitening base used by ARB, and a
 * differentiable Cholesky factorisation and lower-triangular solve (W-MSE's whitening).
 */
export { type EigenAlgorithm, type SymmetricEigen, symmetricEigen } from "./eigen.ts";
export { jacobiEigen, type JacobiOptions } from "./jacobi.ts";
export { householderQlEigen } from "./householder_ql.ts";
export {
  inverseSqrtHost,
  type InverseSqrtMethod,
  type InverseSqrtOptions,
  inverseSqrtSymmetric,
  NEWTON_SCHULZ_MAX_RESIDUAL,
  type NewtonSchulzDeviceResult,
  newtonSchulzInverseSqrt,
  newtonSchulzInverseSqrtDevice,
  newtonSchulzIterations,
  type NewtonSchulzResult,
} from "./inverse_sqrt.ts";
export { zcaBase, zcaNewtonSchulzSteps, type ZcaOptions } from "./zca.ts";
export { stopGradient } from "./stop_gradient.ts";
export {
  cholesky,
  choleskyF64,
  invertLowerF64,
  solveLowerF64,
  solveLowerTriangular,
} from "./cholesky.ts";
export { choleskyOnDevice, solveLowerOnDevice } from "./cholesky_device.ts";
