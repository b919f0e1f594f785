// Typed errors with stable codes. The core's numeric statuses come from assembly/layout.json
// (layout.generated.ts): status ERR_X is raised here as TAGWIRE_ERR_X.
import { STATUS_NAMES } from "./layout.generated.js";

export type TagwireErrorCode =
  | "TAGWIRE_ERR_MSGPACK"
  | "TAGWIRE_ERR_INCOMPLETE"
  | "TAGWIRE_ERR_DEPTH"
  | "TAGWIRE_ERR_SIZE"
  | "TAGWIRE_ERR_NAME"
  | "TAGWIRE_ERR_NOT_FOUND"
  | "TAGWIRE_ERR_ARGUMENT"
  | "TAGWIRE_ERR_PAYLOAD"
  | "TAGWIRE_ERR_MEMORY"
  | "TAGWIRE_ERR_CORE_DEAD"
  // Codes raised above the core (SDK, transports, hub) live in the same namespace.
  | "TAGWIRE_ERR_CLOSED"
  // Cluster mode: the shared storage (NATS JetStream) cannot be reached; retry later.
  | "TAGWIRE_ERR_UNAVAILABLE"
  | "TAGWIRE_ERR_TIMEOUT"
  | "TAGWIRE_ERR_AUTH"
  | "TAGWIRE_ERR_FORBIDDEN"
  | "TAGWIRE_ERR_RATE"
  | "TAGWIRE_ERR_BACKPRESSURE"
  | "TAGWIRE_ERR_PROTOCOL"
  | "TAGWIRE_ERR_UI"
  | "TAGWIRE_ERR_INTERNAL";

/** TagwireError codes of the core's statuses, indexed by value (0, OK, is never raised). */
const STATUS_CODES: readonly TagwireErrorCode[] = STATUS_NAMES.map((name) =>
  name === "OK" ? "TAGWIRE_ERR_INTERNAL" : (`TAGWIRE_${name}` satisfies CoreStatusCode),
);
/** Fails to compile when layout.json gains a status this file has no code for. */
type CoreStatusCode = `TAGWIRE_${Exclude<(typeof STATUS_NAMES)[number], "OK">}` & TagwireErrorCode;

export class TagwireError extends Error {
  readonly code: TagwireErrorCode;
  /** True when the input was cut short: more bytes could make it valid (as msgpackr marks it). */
  readonly incomplete: boolean;

  constructor(code: TagwireErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TagwireError";
    this.code = code;
    this.incomplete = code === "TAGWIRE_ERR_INCOMPLETE";
  }
}

/** Maps a core status (non-zero) to a TagwireError; `what` says what was being done. */
export function statusError(status: number, what: string): TagwireError {
  const code = STATUS_CODES[status] ?? "TAGWIRE_ERR_ARGUMENT";
  return new TagwireError(code, `${what}: ${describe(code)}`);
}

function describe(code: TagwireErrorCode): string {
  switch (code) {
    case "TAGWIRE_ERR_MSGPACK":
      return "malformed msgpack";
    case "TAGWIRE_ERR_INCOMPLETE":
      return "truncated msgpack (input ends mid-value)";
    case "TAGWIRE_ERR_DEPTH":
      return "nesting too deep";
    case "TAGWIRE_ERR_SIZE":
      return "payload too large";
    case "TAGWIRE_ERR_NAME":
      return "invalid name";
    case "TAGWIRE_ERR_NOT_FOUND":
      return "no such handle";
    case "TAGWIRE_ERR_ARGUMENT":
      return "argument out of range";
    case "TAGWIRE_ERR_PAYLOAD":
      return "payload fails validation";
    case "TAGWIRE_ERR_MEMORY":
      return "out of memory";
    case "TAGWIRE_ERR_FORBIDDEN":
      return "not allowed for this writer";
    default:
      return code;
  }
}
