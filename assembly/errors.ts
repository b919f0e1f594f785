// Status codes returned across the boundary. AssemblyScript `throw` aborts the whole instance, so
// every fallible core function returns one of these (0 = ok) and the binding maps it to a
// TagwireError with a stable string code (bindings/core/errors.ts keeps the same numbering).
export const OK: i32 = 0;
/** Bytes are not valid msgpack, or hold a type the data model has no place for. */
export const ERR_MSGPACK: i32 = 1;
/** Bytes end in the middle of a value (a frame split or cut short). */
export const ERR_INCOMPLETE: i32 = 2;
/** Nesting deeper than the configured limit (default 64). */
export const ERR_DEPTH: i32 = 3;
/** Payload larger than the configured limit (default 1 MiB). */
export const ERR_SIZE: i32 = 4;
/** A channel name, key or pattern that breaks the naming rules. */
export const ERR_NAME: i32 = 5;
/** A handle (router, store, channel, window) that does not exist. */
export const ERR_NOT_FOUND: i32 = 6;
/** An argument out of range (window size 0, negative interval, ...). */
export const ERR_ARGUMENT: i32 = 7;
/** A payload that fails Doover's strict validation (top level not an object, bad key). */
export const ERR_PAYLOAD: i32 = 8;
/** The core could not obtain memory. */
export const ERR_MEMORY: i32 = 9;
/** The writer may not publish to this channel (another agent's, for a device connection). */
export const ERR_FORBIDDEN: i32 = 10;
