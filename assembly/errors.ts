// Status codes returned across the boundary. AssemblyScript `throw` aborts the whole instance, so
// every fallible core function returns one of these (0 = ok) and the binding maps it to a
// TagwireError with a stable string code. The numbers live in assembly/layout.json, the one source
// both sides are generated from (layout.generated.ts here, bindings/core/layout.generated.ts there).
export {
  OK,
  ERR_MSGPACK,
  ERR_INCOMPLETE,
  ERR_DEPTH,
  ERR_SIZE,
  ERR_NAME,
  ERR_NOT_FOUND,
  ERR_ARGUMENT,
  ERR_PAYLOAD,
  ERR_MEMORY,
  ERR_FORBIDDEN,
} from "./layout.generated";
