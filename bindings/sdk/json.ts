// The JSON-document helpers of the SDK, UI and viewer: the one place where plain JS values are
// merged, diffed, compared, copied and validated synchronously (tag caches, pending diffs,
// coalescing, UI schemas). They follow the core's merge semantics (Doover's apply_diff and
// generate_diff, checked against pydoover in test/doc.compat.test.ts): objects merge key by key,
// scalars and arrays replace, null deletes the key (or is kept when doDelete is false, which is
// how two diffs are composed). Inputs are never mutated; unchanged subtrees are shared, so values
// handled here are treated as immutable. The UI tree is tiny and lives in JS objects, so its diff
// is computed here rather than through the core: a crossing would cost more than the walk.
import { TagwireError } from "../core/errors.js";
import type { Json } from "./session.js";

export type JsonObject = { [key: string]: Json };

/** Deepest nesting accepted from callers (the core's default limit is of the same order). */
export const MAX_JSON_DEPTH = 64;

/** A plain JSON object (not null, an array or a Date). */
export function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof Date);
}

/**
 * Applies `diff` to `target` and returns the result, exactly as Doover's apply_diff and the core
 * do: a non-object diff replaces the target; an absent target counts as `{}`; a present target
 * that is not an object (a scalar, array or null) is replaced by the diff verbatim, nulls inside
 * it included. With `doDelete` false a null is stored instead of deleting (how two diffs are
 * composed; see Agent's coalescing for when composing is not exact).
 */
export function applyDiff(target: Json | undefined, diff: Json, doDelete = true): Json {
  if (!isObject(diff)) return diff;
  if (target !== undefined && !isObject(target)) return diff;
  const base: JsonObject = target ?? {};
  let out: JsonObject | undefined;
  for (const key of Object.keys(diff)) {
    const d = diff[key]!;
    const had = Object.prototype.hasOwnProperty.call(base, key);
    if (d === null && doDelete) {
      if (!had) continue;
      out ??= { ...base };
      delete out[key];
      continue;
    }
    const next = isObject(d) ? applyDiff(had ? base[key] : undefined, d, doDelete) : d;
    if (had && next === base[key]) continue;
    out ??= { ...base };
    out[key] = next;
  }
  return out ?? base;
}

/**
 * The diff that turns `old` into `next`, exactly as Doover's generate_diff: only changed keys,
 * null for keys gone from `next` (when doDelete), nested objects recurse and a nested diff that
 * comes out empty is dropped (so a scalar turning into `{}` is no change, as in pydoover). A
 * `next` or `old` that is not an object yields `next` itself. Values compare as Python's `==`
 * does: numbers by value, and booleans as the numbers 0 and 1 (`1` -> `true` is no change).
 */
export function generateDiff(old: Json | undefined, next: Json, doDelete = true): Json {
  if (!isObject(next) || !isObject(old)) return next;
  const out: JsonObject = {};
  for (const key of Object.keys(next)) {
    const v = next[key]!;
    const had = Object.prototype.hasOwnProperty.call(old, key);
    if (isObject(v)) {
      // An old value that is not an object makes the new object the diff whole (empty children
      // included); either way an empty result means no change.
      const d = generateDiff(had ? old[key] : {}, v, doDelete);
      if (!isObject(d) || Object.keys(d).length > 0) out[key] = d;
    } else if (!had || !pythonEqual(old[key], v)) out[key] = v;
  }
  if (doDelete) for (const key of Object.keys(old)) if (!Object.prototype.hasOwnProperty.call(next, key)) out[key] = null;
  return out;
}

/** Python's `==` on JSON values: a bool is the int 0 or 1; containers compare element-wise. */
function pythonEqual(a: Json | undefined, b: Json | undefined): boolean {
  const na = typeof a === "boolean" ? Number(a) : a;
  const nb = typeof b === "boolean" ? Number(b) : b;
  if (typeof na === "number" || typeof nb === "number") return na === nb;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => pythonEqual(x, b[i]));
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length && keys.every((k) => Object.prototype.hasOwnProperty.call(b, k) && pythonEqual(a[k], b[k]))
    );
  }
  return a === b;
}

/** Structural equality of two JSON values (key order ignored; Dates compare by time). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === "number" && typeof b === "number") return Number.isNaN(a) && Number.isNaN(b);
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
  if (a instanceof Date || b instanceof Date) return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ak = Object.keys(a),
    bk = Object.keys(b);
  if (ak.length !== bk.length) return false;
  for (const k of ak) {
    if (!Object.prototype.hasOwnProperty.call(b, k)) return false;
    if (!deepEqual((a as JsonObject)[k], (b as JsonObject)[k])) return false;
  }
  return true;
}

/** True when applying `diff` to `current` (deleting on null) would change anything. */
export function diffChanges(current: Json | undefined, diff: Json): boolean {
  if (!isObject(diff)) {
    if (diff === null) return current !== undefined && current !== null;
    return !deepEqual(current, diff);
  }
  if (!isObject(current)) return true;
  for (const key of Object.keys(diff)) {
    const d = diff[key]!;
    const has = Object.prototype.hasOwnProperty.call(current, key);
    if (d === null) {
      if (has) return true;
      continue;
    }
    if (!has) return true;
    if (diffChanges(current[key], d)) return true;
  }
  return false;
}

/** The value at `path` (object keys), or undefined when absent. */
export function getPath(value: unknown, path: readonly string[]): Json | undefined {
  let cur = value as Json | undefined;
  for (const key of path) {
    if (!isObject(cur) || !Object.prototype.hasOwnProperty.call(cur, key)) return undefined;
    cur = cur[key];
  }
  return cur;
}

/** Wraps `value` in objects along `path`: ["a", "b"], 1 -> { a: { b: 1 } }. */
export function atPath(path: readonly string[], value: Json): Json {
  let out = value;
  for (let i = path.length - 1; i >= 0; i--) out = { [path[i]!]: out };
  return out;
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
 * The merge diff that turns `prev` into `next` for trees the SDK serialises itself (UI schemas):
 * changed or added keys carry their new value (copied), nested objects recurse, keys gone from
 * `next` become null. Undefined when nothing differs. Unlike generateDiff, an added `{}` is kept
 * (a UI element with no options must still appear). Both trees must be null-free at object
 * level, since a null in `next` could not be told apart from a deletion.
 */
export function diffObjects(prev: JsonObject, next: JsonObject): JsonObject | undefined {
  const out: JsonObject = {};
  let changed = false;
  for (const key of Object.keys(next)) {
    const after = next[key]!;
    const had = Object.prototype.hasOwnProperty.call(prev, key);
    const before = had ? prev[key] : undefined;
    let change: Json | undefined;
    if (!had) change = cloneJson(after);
    else if (isObject(before) && isObject(after)) change = diffObjects(before, after);
    else if (!deepEqual(before, after)) change = cloneJson(after);
    if (change !== undefined) {
      out[key] = change;
      changed = true;
    }
  }
  for (const key of Object.keys(prev)) {
    if (!Object.prototype.hasOwnProperty.call(next, key)) {
      out[key] = null;
      changed = true;
    }
  }
  return changed ? out : undefined;
}

/**
 * Validates that `value` is JSON-like (null, boolean, number, string, arrays, plain objects,
 * nested at most MAX_JSON_DEPTH) and returns a deep copy, so later changes by the caller cannot
 * reach data the SDK holds. Throws TAGWIRE_ERR_PAYLOAD (or TAGWIRE_ERR_DEPTH) otherwise.
 */
export function toJson(value: unknown, what = "value"): Json {
  return copy(value, what, 0);
}

function copy(value: unknown, what: string, depth: number): Json {
  switch (typeof value) {
    case "string":
    case "number":
    case "boolean":
      return value;
    case "object":
      break;
    default:
      throw new TagwireError("TAGWIRE_ERR_PAYLOAD", `${what}: ${typeof value} is not a JSON value`);
  }
  if (value === null) return null;
  if (depth >= MAX_JSON_DEPTH) throw new TagwireError("TAGWIRE_ERR_DEPTH", `${what}: nested deeper than ${MAX_JSON_DEPTH}`);
  if (Array.isArray(value)) {
    const out: Json[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = copy(value[i], what, depth + 1);
    return out;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    throw new TagwireError("TAGWIRE_ERR_PAYLOAD", `${what}: ${proto?.constructor?.name ?? "object"} is not a plain JSON object`);
  }
  const out: JsonObject = {};
  for (const key of Object.keys(value)) {
    const v = (value as Record<string, unknown>)[key];
    if (v === undefined) continue; // as JSON.stringify does: an undefined field is absent
    out[key] = copy(v, what, depth + 1);
  }
  return out;
}

/** Freezes a JSON value in place, all the way down; returns it. */
export function deepFreeze<T extends Json>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    if (Array.isArray(value)) for (const v of value) deepFreeze(v);
    else for (const k of Object.keys(value)) deepFreeze((value as JsonObject)[k]!);
  }
  return value;
}

/**
 * Freezes what `applyDiff(frozenBase, diff)` created: the root and the nodes along the diff's
 * paths. Everything else is shared with the already frozen base, so this costs the size of the
 * diff, not of the document. Returns `value`.
 */
export function freezeChanged<T extends Json>(value: T, diff: Json): T {
  if (value === null || typeof value !== "object" || Object.isFrozen(value)) return value;
  if (Array.isArray(value) || !isObject(diff)) return deepFreeze(value);
  Object.freeze(value);
  for (const key of Object.keys(diff)) {
    const v = (value as JsonObject)[key];
    if (v !== undefined) freezeChanged(v, diff[key]!);
  }
  return value;
}

/**
 * Values the SDK built itself and will not touch again (an app's committed tag diff): publish
 * skips its defensive copy for them. Module-private to the SDK; not part of the public API.
 */
const owned = new WeakSet<object>();

export function markOwned<T extends object>(value: T): T {
  owned.add(value);
  return value;
}

export function isOwned(value: unknown): boolean {
  return typeof value === "object" && value !== null && owned.has(value);
}
