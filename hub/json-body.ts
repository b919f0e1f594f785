// The JSON text of a request body, parsed and bounded in nesting, for the native HTTP API and the
// Doover-compatible one alike. The nesting check runs before the value reaches the codec, so a
// deep body is refused with TAGWIRE_ERR_DEPTH rather than by the codec's own recursion limit.
import { TagwireError } from "../bindings/core/errors.js";

function deeperThan(value: unknown, limit: number, depth = 0): boolean {
  if (value === null || typeof value !== "object") return false;
  if (depth + 1 > limit) return true;
  for (const v of Array.isArray(value) ? value : Object.values(value as object)) if (deeperThan(v, limit, depth + 1)) return true;
  return false;
}

/** JSON.parse of `text`, refused as TAGWIRE_ERR_PAYLOAD when not JSON, TAGWIRE_ERR_DEPTH when nested deeper than `maxDepth`. */
export function parseJsonBody(text: string, maxDepth: number): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new TagwireError("TAGWIRE_ERR_PAYLOAD", `body is not JSON: ${(err as Error).message}`);
  }
  if (deeperThan(value, maxDepth)) throw new TagwireError("TAGWIRE_ERR_DEPTH", `body nested deeper than ${maxDepth}`);
  return value;
}
