// The HTTP status for each TagwireError code, shared by the native API (hub/http.ts) and the
// Doover-compatible one (hub/doover/): the same refusal gets the same status on either route.
import type { TagwireError } from "../bindings/core/errors.js";

const STATUS: Readonly<Record<string, number>> = {
  TAGWIRE_ERR_AUTH: 401,
  TAGWIRE_ERR_FORBIDDEN: 403,
  TAGWIRE_ERR_NOT_FOUND: 404,
  TAGWIRE_ERR_SIZE: 413,
  TAGWIRE_ERR_RATE: 429,
  TAGWIRE_ERR_INTERNAL: 500,
  TAGWIRE_ERR_CLOSED: 503,
  // Cluster mode: the hub cannot reach NATS, so it cannot make a write durable; retry later.
  TAGWIRE_ERR_UNAVAILABLE: 503,
};

/** An explicit `httpStatus` on the error wins; unknown codes are the client's fault (400). */
export function httpStatusOf(err: TagwireError): number {
  return (err as { httpStatus?: number }).httpStatus ?? STATUS[err.code] ?? 400;
}
