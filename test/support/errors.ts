import { expect } from "vitest";
import { TagwireError } from "../../bindings/index.js";

/** Runs `fn` and expects it to throw a TagwireError with `code`. */
export function expectTagwireError(code: string, fn: () => unknown): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(TagwireError);
  expect((caught as TagwireError).code).toBe(code);
}
