/** Optimisers (LARS for pretraining, SGD for linear evaluation), parameter groups, schedule. */
export { checkStep, LARS, type LarsOptions } from "./lars.ts";
export { SGD } from "./sgd.ts";
export { type ParamGroup, splitParamGroups } from "./param_groups.ts";
export { type WarmupCosine, warmupCosine } from "./schedule.ts";
