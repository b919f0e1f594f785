import { describe, expect, it } from "vitest";
import { createCore, TagwireError } from "../bindings/index.js";

describe("core instance", () => {
  it("instantiates and exposes its io regions", async () => {
    const core = await createCore();
    const ex = core.instance.exports;
    const ptr = ex.ioInReserve(200_000);
    expect(ptr).toBeGreaterThan(0);
    expect(ex.ioInReserve(10)).toBe(ptr);
    expect(core.instance.u8.length).toBeGreaterThanOrEqual(ptr + 200_000);
  });

  it("maps statuses to typed errors with stable codes", async () => {
    const core = await createCore();
    expect(() => core.instance.ok(3, "merge")).toThrowError(TagwireError);
    expect(() => core.instance.ok(2, "decode")).toThrowError(expect.objectContaining({ code: "TAGWIRE_ERR_INCOMPLETE", incomplete: true }));
    expect(() => core.instance.ok(0, "noop")).not.toThrow();
  });
});
