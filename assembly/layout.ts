// The layout this core was compiled with (assembly/layout.json), so the binding can refuse a wasm
// built from another version of the shared records and codes instead of misreading its memory.
import { LAYOUT_HASH } from "./layout.generated";

export function layoutHash(): u32 {
  return LAYOUT_HASH;
}
