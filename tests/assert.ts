/**
 * Test assertions (JSR's `@std/assert` is not reachable from these machines), built on
 * Node's deep equality so failures print both values.
 */
import { inspect, isDeepStrictEqual } from "node:util";

/** Error thrown by a failed assertion. */
export class AssertionError extends Error {
  override name = "AssertionError";
}

/** Fails unless `cond` is truthy. */
export function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new AssertionError(msg);
}

/** Fails unless `actual` deep-equals `expected`. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  if (!isDeepStrictEqual(actual, expected)) {
    throw new AssertionError(
      `${msg ? msg + ": " : ""}values differ\n  actual:   ${
        inspect(actual, { depth: 6 })
      }\n  expected: ${inspect(expected, { depth: 6 })}`,
    );
  }
}

/** Fails if `actual` deep-equals `expected`. */
export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  if (isDeepStrictEqual(actual, expected)) {
    throw new AssertionError(`${msg ? msg + ": " : ""}values are equal: ${inspect(actual)}`);
  }
}

/** Fails unless |actual - expected| <= tol (absolute). */
export function assertAlmostEquals(
  actual: number,
  expected: number,
  tol = 1e-7,
  msg?: string,
): void {
  if (!(Math.abs(actual - expected) <= tol)) {
    throw new AssertionError(
      `${msg ? msg + ": " : ""}${actual} is not within ${tol} of ${expected} (diff ${
        Math.abs(actual - expected)
      })`,
    );
  }
}

/** Fails unless `s` contains `sub`. */
export function assertStringIncludes(s: string, sub: string, msg?: string): void {
  if (!s.includes(sub)) {
    throw new AssertionError(`${msg ? msg + ": " : ""}expected to find ${inspect(sub)} in:\n${s}`);
  }
}

/** Fails unless `fn` throws; the error message must include `includes` when given. Returns the error. */
export function assertThrows(fn: () => unknown, includes?: string): Error {
  try {
    fn();
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    if (includes !== undefined) assertStringIncludes(err.message, includes, "error message");
    return err;
  }
  throw new AssertionError("expected function to throw");
}

/** Fails unless the promise rejects; the message must include `includes` when given. Returns the error. */
export async function assertRejects(fn: () => Promise<unknown>, includes?: string): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    if (includes !== undefined) assertStringIncludes(err.message, includes, "error message");
    return err;
  }
  throw new AssertionError("expected promise to reject");
}
