// Tokens (hub/auth.ts), grants and role checks (hub/access.ts) without sockets.
import { describe, expect, test } from "vitest";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { createToken, loadSecret, normaliseGrant, verifyToken } from "../hub/auth.js";
import { canRead, canSubscribe, canWrite, patternCovers, principalOf } from "../hub/access.js";
import { tempDir } from "./hub-helpers.js";

const SECRET = "test-secret";

describe("tokens", () => {
  test("create -> verify round trip carries agent, role, grants, expiry", () => {
    const token = createToken(SECRET, { agentId: "pump-1", role: "device", grants: ["agentA", "agentB/*"], ttlSeconds: 60, now: 1000 });
    expect(token.startsWith("tw1.")).toBe(true);
    const claims = verifyToken(SECRET, token, 1030);
    expect(claims).toEqual({ agentId: "pump-1", role: "device", grants: ["agentA/#", "agentB/#"], expiresAt: 1060, issuedAt: 1000 });
  });

  test("wrong secret, tampered claims, expiry and junk are TAGWIRE_ERR_AUTH", () => {
    const token = createToken(SECRET, { agentId: "pump-1", role: "viewer", now: 1000, ttlSeconds: 10 });
    const auth = expect.objectContaining({ code: "TAGWIRE_ERR_AUTH" });
    expect(() => verifyToken("other", token, 1001)).toThrow(auth);
    expect(() => verifyToken(SECRET, token, 1010)).toThrow(/expired/);
    const [p, body, sig] = token.split(".");
    const forged = Buffer.from(JSON.stringify({ a: "pump-1", r: "operator", e: 99999, i: 0 })).toString("base64url");
    expect(() => verifyToken(SECRET, `${p}.${forged}.${sig}`, 1001)).toThrow(/signature/);
    expect(() => verifyToken(SECRET, `${p}.${body}.${sig}x`, 1001)).toThrow(auth);
    for (const junk of [undefined, "", "abc", "tw1.", "tw1..", "x".repeat(5000)])
      expect(() => verifyToken(SECRET, junk, 1001)).toThrow(auth);
  });

  test("only the canonical base64url spelling of a signature is accepted (no malleable tokens)", () => {
    const token = createToken(SECRET, { agentId: "pump-1", role: "device", now: 1000 });
    expect(verifyToken(SECRET, token, 1001).agentId).toBe("pump-1");
    const sig = token.slice(token.lastIndexOf(".") + 1);
    const head = token.slice(0, token.lastIndexOf(".") + 1);
    // 32 bytes are 43 characters: the last one carries 2 bits and 4 unused ones; flipping an
    // unused bit, padding, or standard-alphabet characters decode to the same bytes.
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const last = alphabet.indexOf(sig.at(-1)!);
    const sameBytes = sig.slice(0, -1) + alphabet[last ^ 1];
    expect(Buffer.from(sameBytes, "base64url")).toEqual(Buffer.from(sig, "base64url"));
    const variants = [
      sameBytes,
      `${sig}=`,
      `${sig}==`,
      sig.replace(/-/g, "+").replace(/_/g, "/") + (/[-_]/.test(sig) ? "" : "="),
      ` ${sig}`,
    ];
    for (const v of variants) expect(() => verifyToken(SECRET, head + v, 1001), v).toThrow(/signature/);
  });

  test("bad roles and names are refused when creating", () => {
    expect(() => createToken(SECRET, { agentId: "a", role: "admin" as never })).toThrow(
      expect.objectContaining({ code: "TAGWIRE_ERR_ARGUMENT" }),
    );
    expect(() => createToken(SECRET, { agentId: "a/b", role: "device" })).toThrow(expect.objectContaining({ code: "TAGWIRE_ERR_NAME" }));
    expect(() => createToken(SECRET, { agentId: "a", role: "device", grants: ["x/#/y"] })).toThrow(
      expect.objectContaining({ code: "TAGWIRE_ERR_NAME" }),
    );
  });

  test("the secret is generated once into the data dir (0600) and reused; TAGWIRE_SECRET wins", () => {
    const t = tempDir();
    try {
      const first = loadSecret(t.dir, {});
      expect(first).toMatch(/^[0-9a-f]{64}$/);
      expect(loadSecret(t.dir, {})).toBe(first);
      expect(readFileSync(join(t.dir, "secret"), "utf8").trim()).toBe(first);
      expect(statSync(join(t.dir, "secret")).mode & 0o777).toBe(0o600);
      expect(loadSecret(t.dir, { TAGWIRE_SECRET: "from-env" })).toBe("from-env");
    } finally {
      t.remove();
    }
  });
});

describe("grants and roles", () => {
  test("grant forms normalise to routing-key patterns", () => {
    expect(normaliseGrant("agentA")).toBe("agentA/#");
    expect(normaliseGrant("agentB/*")).toBe("agentB/#");
    expect(normaliseGrant("agentB/sensors/*")).toBe("agentB/sensors/#");
    expect(normaliseGrant("+/tag_values")).toBe("+/tag_values");
    expect(normaliseGrant("*")).toBe("#");
  });

  test("patternCovers: every key the pattern matches must be matched by the grant", () => {
    const cases: [string, string, boolean][] = [
      ["a/#", "a/#", true],
      ["a/#", "a/x/+", true],
      ["a/#", "+/#", false],
      ["a/#", "b/x", false],
      ["+/tag_values", "a/tag_values", true],
      ["+/tag_values", "+/tag_values", true],
      ["+/tag_values", "+/+", false],
      ["a/x/+", "a/x/y", true],
      ["a/x/+", "a/x/#", false], // # also reaches a/x/y/z
      ["a/x", "a/x/#", false],
      ["#", "+/#", true],
      ["a/+/c", "a/b/c", true],
      ["a/+/c", "a/b/+", false],
    ];
    for (const [grant, pattern, want] of cases) expect(patternCovers(grant, pattern), `${grant} covers ${pattern}`).toBe(want);
  });

  test("device: writes only its own channels, reads its own and its grants", () => {
    const p = principalOf({ agentId: "pump-1", role: "device", grants: ["pump-2/sensors/#"], expiresAt: 0, issuedAt: 0 });
    expect(canWrite(p, "pump-1", "anything/here")).toBe(true);
    expect(canWrite(p, "pump-2", "sensors/a")).toBe(false);
    expect(canRead(p, "pump-1/x")).toBe(true);
    expect(canRead(p, "pump-2/sensors/a")).toBe(true);
    expect(canRead(p, "pump-2/ui_state")).toBe(false);
    expect(canSubscribe(p, "pump-1/#")).toBe(true);
    expect(canSubscribe(p, "pump-2/sensors/+")).toBe(true);
    expect(canSubscribe(p, "+/#")).toBe(false);
  });

  test("viewer reads (everything without grants) and writes nothing; operator also writes ui_cmds", () => {
    const viewer = principalOf({ agentId: "ann", role: "viewer", grants: [], expiresAt: 0, issuedAt: 0 });
    expect(canRead(viewer, "pump-1/x")).toBe(true);
    expect(canSubscribe(viewer, "+/#")).toBe(true);
    expect(canWrite(viewer, "ann", "x")).toBe(false);
    expect(canWrite(viewer, "pump-1", "ui_cmds")).toBe(false);
    const op = principalOf({ agentId: "bob", role: "operator", grants: ["pump-1"], expiresAt: 0, issuedAt: 0 });
    expect(canWrite(op, "pump-1", "ui_cmds")).toBe(true);
    expect(canWrite(op, "pump-2", "ui_cmds")).toBe(false); // not granted
    expect(canWrite(op, "pump-1", "ui_state")).toBe(false);
    expect(canRead(op, "pump-2/x")).toBe(false);
  });
});
