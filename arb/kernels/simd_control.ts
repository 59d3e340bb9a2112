/** Slots of the control block shared with the SIMD helper thread (`simd_worker.ts`). */
export const CONTROL = { READY: 0, REQ: 1, DONE: 2, FN: 3, ERR: 4, ARGC: 5, ARGS: 8, SIZE: 32 };
