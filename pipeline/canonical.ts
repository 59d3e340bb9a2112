/**
 * Canonical JSON and SHA-256 helpers: the byte-exact form that every cache key and digest is
 * computed from, so equal values always hash equally whatever their key order.
 */
import { createHash } from "node:crypto";

/**
 * Serialises `value` as JSON with object keys sorted (recursively), no whitespace, `-0` as
 * `0`, and `undefined` object members dropped. Throws on values JSON cannot represent
 * faithfully (NaN, Infinity, functions, bigint, symbols).
 *
 * @example canonicalJson({ b: 1, a: [true, null] }) === '{"a":[true,null],"b":1}'
 */
export function canonicalJson(value: unknown): string {
  return encode(value, "$");
}

function encode(value: unknown, where: string): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value)) {
        throw new TypeError(`${where}: ${value} has no canonical JSON form`);
      }
      return Object.is(value, -0) ? "0" : JSON.stringify(value);
    case "object": {
      if (Array.isArray(value)) {
        return "[" + value.map((v, i) => v === undefined ? "null" : encode(v, `${where}[${i}]`))
          .join(",") +
          "]";
      }
      if (value instanceof Date) return JSON.stringify(value.toISOString());
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
      return "{" + keys.map((k) => JSON.stringify(k) + ":" + encode(obj[k], `${where}.${k}`))
        .join(",") +
        "}";
    }
    default:
      throw new TypeError(`${where}: a ${typeof value} has no canonical JSON form`);
  }
}

/** Hex SHA-256 of a string (UTF-8) or bytes. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Hex SHA-256 of the canonical JSON of `value`. */
export function hashValue(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}
