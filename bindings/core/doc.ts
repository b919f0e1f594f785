// PLACEHOLDER: replaced by the document binding.
import type { CoreInstance } from "./instance.js";
export interface DiffOptions { doDelete?: boolean }
export interface DocLimits { maxPayloadBytes?: number; maxDepth?: number }
export class DocCodec {
  constructor(readonly instance: CoreInstance, readonly limits: DocLimits) {}
  applyDiff(_d: unknown, _f: unknown, _o?: DiffOptions): unknown { throw new Error("not implemented"); }
  generateDiff(_a: unknown, _b: unknown, _o?: DiffOptions): unknown { throw new Error("not implemented"); }
  validatePayload(_v: unknown): boolean { throw new Error("not implemented"); }
}
