// Small JSON helpers for the UI layer. The UI tree is tiny (tens of elements) and lives in
// JavaScript objects, so its diff is computed here rather than through the core: a crossing would
// cost more than the walk.
import type { Json } from "../session.js";

export type JsonObject = { [key: string]: Json };

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** Structural equality of JSON-like values (Dates compare by time). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) {
    return typeof a === "number" && typeof b === "number" && Number.isNaN(a) && Number.isNaN(b);
  }
  if (a instanceof Date || b instanceof Date) {
    return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = Object.keys(ao);
  if (keys.length !== Object.keys(bo).length) return false;
  for (const key of keys) {
    if (!Object.prototype.hasOwnProperty.call(bo, key) || !jsonEqual(ao[key], bo[key])) return false;
  }
  return true;
}

/** A deep copy, so values handed out or kept as "last sent" never alias caller objects. */
export function cloneJson<T>(value: T): T {
  if (typeof value !== "object" || value === null) return value;
  if (value instanceof Date) return new Date(value.getTime()) as T;
  if (Array.isArray(value)) return value.map(cloneJson) as T;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = cloneJson(item);
  return out as T;
}

/**
 * The merge diff that turns `prev` into `next` under the aggregate rules (objects merge,
 * scalars and arrays replace, null deletes): changed or added keys carry their new value,
 * nested objects recurse, keys gone from `next` become null. Undefined when nothing differs.
 * Both trees must be null-free at object level (the serialiser omits unset fields), since a
 * null in `next` could not be told apart from a deletion.
 */
export function diffObjects(prev: JsonObject, next: JsonObject): JsonObject | undefined {
  let out: JsonObject | undefined;
  for (const key of Object.keys(next)) {
    const after = next[key]!;
    const had = Object.prototype.hasOwnProperty.call(prev, key);
    const before = had ? prev[key] : undefined;
    let change: Json | undefined;
    if (!had) change = cloneJson(after);
    else if (isJsonObject(before) && isJsonObject(after)) change = diffObjects(before, after);
    else if (!jsonEqual(before, after)) change = cloneJson(after);
    if (change !== undefined) (out ??= {})[key] = change;
  }
  for (const key of Object.keys(prev)) {
    if (!Object.prototype.hasOwnProperty.call(next, key)) (out ??= {})[key] = null;
  }
  return out;
}

/** `root[k0][k1]...` when every step is an object, else undefined. */
export function pick(root: unknown, ...path: string[]): unknown {
  let node = root;
  for (const key of path) {
    if (!isJsonObject(node)) return undefined;
    node = node[key];
  }
  return node;
}
