// The wire protocol (docs/PROTOCOL.md): frame codec and msgpack helpers shared by hub and clients.
export * from "./frames.js";
export { packr, encodeValue, decodeValue } from "./msgpack.js";
