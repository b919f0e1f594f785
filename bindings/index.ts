// Public entry of the tagwire package.
export { createCore, Core, TagwireError } from "./core/index.js";
export type * from "./core/index.js";
