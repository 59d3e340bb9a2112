/**
 * The backend names a caller may ask for, in a module with no dependencies so that stage
 * schemas can use them without loading tfjs (`backend.ts` chooses among them).
 */

/** All accepted preferences, for schemas and CLIs. */
export const BACKEND_PREFERENCES = ["auto", "tensorflow", "webgpu", "wasm", "cpu"] as const;

/** What a caller may ask for. */
export type BackendPreference = typeof BACKEND_PREFERENCES[number];
