// PLACEHOLDER: replaced by the router binding.
import type { CoreInstance } from "./instance.js";
export class Router {
  constructor(readonly instance: CoreInstance) {}
  subscribe(_pattern: string, _id: number): void { throw new Error("not implemented"); }
  unsubscribe(_pattern: string, _id: number): boolean { throw new Error("not implemented"); }
  match(_channel: string): number[] { throw new Error("not implemented"); }
}
