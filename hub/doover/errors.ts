// Errors in the shape Doover's HTTP APIs answer with (`{"detail": str, "error": any}`, the
// OpenAPIErrorResponse schema in pydoover's protos/Doover Control API.yaml). pydoover's DataClient
// only reads the status (400/401/403/404 -> its typed exceptions, 5xx retried) and keeps the body
// text in the exception message; `error` carries tagwire's stable code for programs.
import { TagwireError } from "../../bindings/core/errors.js";
import { httpStatusOf } from "../http-status.js";

/** An answer that is not a TagwireError: 405, 501. */
export class DooverHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "DooverHttpError";
  }
}

export function unsupported(what: string): DooverHttpError {
  return new DooverHttpError(
    501,
    "TAGWIRE_ERR_UNSUPPORTED",
    `${what}: tagwire has no such concept, so its Doover-compatible API does not implement this route (see docs/DOOVER.md)`,
  );
}

export function methodNotAllowed(method: string, allowed: string): DooverHttpError {
  return new DooverHttpError(405, "TAGWIRE_ERR_METHOD", `method ${method} not allowed here (use ${allowed})`);
}

/** Status and body for any error; undefined status = an internal error (logged by the caller). */
export function errorBody(err: unknown): { status: number; body: { detail: string; error: string }; internal: boolean } {
  if (err instanceof DooverHttpError) return { status: err.status, body: { detail: err.message, error: err.code }, internal: false };
  if (err instanceof TagwireError) {
    return { status: httpStatusOf(err), body: { detail: err.message, error: err.code }, internal: false };
  }
  return { status: 500, body: { detail: "internal error", error: "TAGWIRE_ERR_INTERNAL" }, internal: true };
}
