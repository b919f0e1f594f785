// Name rules, checked in TypeScript before anything is sent or reaches the core: the one module
// of them (the core binding's store and router use it, the SDK re-exports it from sdk/names.ts, and
// assembly/names.ts holds the same level bytes for the core's own re-check).
//
// Channel names: 1..255 bytes, "/"-separated levels, each level non-empty and made only of
//   A-Z a-z 0-9 _ . : -   (so every name is ASCII and its byte length is its string length).
//   Examples: "tag_values", "sensors/temperature/indoor", "site-3/pump.2:rpm".
//   "+" and "#" are not allowed in names: they are pattern wildcards.
// Patterns (subscriptions): like names, but a whole level may be "+" (exactly one level) and the
//   last level may be "#" (that level and everything below, MQTT rules).
// Agent ids: one level of the same characters, 1..255 bytes (never "/": an agent id is the first
//   level of a routing key `${agentId}/${channel}`). "+" in subscribe options means any agent.
// Keys (app keys, tag keys): Doover's payload-key rule ^[A-Za-z0-9_-]+$, because they become
//   object keys in the `tag_values` aggregate.
import { TagwireError } from "./errors.js";

export const MAX_NAME_BYTES = 255;

const LEVEL = /^[A-Za-z0-9_.:-]+$/;
const KEY = /^[A-Za-z0-9_-]+$/;

/** A name as error messages show it: quoted, cut at 80 characters. */
export function shownName(value: unknown): string {
  if (typeof value !== "string") return String(value);
  return JSON.stringify(value.length > 80 ? value.slice(0, 80) + "..." : value);
}

/** TAGWIRE_ERR_NAME for `value` (a `kind`: "channel name", "pattern", ...) and why. */
export function nameError(kind: string, value: unknown, why: string): TagwireError {
  return new TagwireError("TAGWIRE_ERR_NAME", `invalid ${kind} ${shownName(value)}: ${why}`);
}

function checkLength(kind: string, value: unknown): asserts value is string {
  if (typeof value !== "string") throw nameError(kind, value, "not a string");
  if (value.length === 0) throw nameError(kind, value, "empty");
  if (value.length > MAX_NAME_BYTES) throw nameError(kind, value, `longer than ${MAX_NAME_BYTES} bytes`);
}

/** True when `name` is a valid channel name (see the top of this file). */
export function isValidChannelName(name: unknown): name is string {
  if (typeof name !== "string" || name.length < 1 || name.length > MAX_NAME_BYTES) return false;
  for (const level of name.split("/")) if (!LEVEL.test(level)) return false;
  return true;
}

/** Throws TAGWIRE_ERR_NAME unless `name` is a valid channel name. */
export function assertChannelName(name: unknown): asserts name is string {
  checkLength("channel name", name);
  const levels = name.split("/");
  for (const level of levels) {
    if (level.length === 0) throw nameError("channel name", name, "empty level (leading, trailing or double '/')");
    if (!LEVEL.test(level)) throw nameError("channel name", name, `level ${JSON.stringify(level)} may only use A-Z a-z 0-9 _ . : -`);
  }
}

/** Throws TAGWIRE_ERR_NAME unless `pattern` is a valid channel name or pattern. */
export function assertChannelPattern(pattern: unknown): asserts pattern is string {
  checkLength("channel pattern", pattern);
  const levels = pattern.split("/");
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level === "+") continue;
    if (level === "#") {
      if (i !== levels.length - 1) throw nameError("channel pattern", pattern, "'#' must be the last level");
      continue;
    }
    if (level.length === 0) throw nameError("channel pattern", pattern, "empty level (leading, trailing or double '/')");
    if (!LEVEL.test(level)) {
      throw nameError("channel pattern", pattern, `level ${JSON.stringify(level)} may only use A-Z a-z 0-9 _ . : - or be '+' / '#'`);
    }
  }
}

/** True when `pattern` contains a wildcard level. */
export function isPattern(pattern: string): boolean {
  for (const level of pattern.split("/")) if (level === "+" || level === "#") return true;
  return false;
}

/** Throws TAGWIRE_ERR_NAME unless `id` is a valid agent id ("+" allowed when `allowAny`). */
export function assertAgentId(id: unknown, allowAny = false): asserts id is string {
  if (allowAny && id === "+") return;
  checkLength("agent id", id);
  if (!LEVEL.test(id)) throw nameError("agent id", id, "may only use A-Z a-z 0-9 _ . : - (one level, no '/')");
}

/** Throws TAGWIRE_ERR_NAME unless `key` is a valid app or tag key (^[A-Za-z0-9_-]+$). */
export function assertKey(kind: string, key: unknown): asserts key is string {
  checkLength(kind, key);
  if (!KEY.test(key)) throw nameError(kind, key, "may only use A-Z a-z 0-9 _ -");
}

/**
 * MQTT-style match of one channel name against a pattern ("+" one level, "#" the rest, which
 * also matches the parent level itself, as in MQTT). Used for one-off scans (a subscription's
 * first sync over existing channels); live routing goes through the core router.
 */
export function matchPattern(pattern: string, name: string): boolean {
  if (pattern === name) return true;
  const p = pattern.split("/");
  const n = name.split("/");
  for (let i = 0; i < p.length; i++) {
    const level = p[i]!;
    if (level === "#") return true;
    if (i >= n.length) return false;
    if (level !== "+" && level !== n[i]) return false;
  }
  return p.length === n.length;
}
