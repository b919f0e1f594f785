// Tokens, the hub secret, roles and grants (docs/PROTOCOL.md, "Authentication and roles").
// What a verified token allows is hub/access.ts.
//
// token = "tw1." base64url(JSON claims) "." base64url(HMAC-SHA256(secret, "tw1." base64url(claims)))
// claims = {"a": agentId, "r": role, "g"?: [grant], "e": expiry unix s, "i": issued unix s}
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TagwireError } from "../bindings/core/errors.js";
import { assertAgentId, assertChannelPattern } from "../bindings/sdk/names.js";

export type Role = "device" | "viewer" | "operator";
export const ROLES: readonly Role[] = ["device", "viewer", "operator"];

export interface TokenClaims {
  agentId: string;
  role: Role;
  /** Routing-key patterns this token may read besides (for a device) its own channels. */
  grants: string[];
  /** Expiry, unix seconds. */
  expiresAt: number;
  issuedAt: number;
}

const PREFIX = "tw1.";
export const SECRET_FILE = "secret";
export const MAX_TOKEN_BYTES = 4096;

/**
 * The hub secret: TAGWIRE_SECRET if set, else `<dataDir>/secret`, created once with 32 random
 * bytes (hex) and mode 0600.
 */
export function loadSecret(dataDir: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env.TAGWIRE_SECRET) return env.TAGWIRE_SECRET;
  const path = join(dataDir, SECRET_FILE);
  if (existsSync(path)) return readFileSync(path, "utf8").trim();
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString("hex");
  // "wx": never overwrite a secret another process wrote meanwhile.
  try {
    writeFileSync(path, secret + "\n", { mode: 0o600, flag: "wx" });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return readFileSync(path, "utf8").trim();
    throw err;
  }
  return secret;
}

function b64url(buf: Buffer): string {
  return buf.toString("base64url");
}

function sign(secret: string, body: string): Buffer {
  return createHmac("sha256", secret).update(body).digest();
}

/**
 * The signature a token with these claims (`tw1.<payload>`) has under `secret`: the MQTT bridge
 * derives a pipe's key from it instead of ever receiving the token (bindings/transports/pipe-auth.ts).
 */
export function tokenSignature(secret: string, claims: string): Uint8Array {
  return sign(secret, claims);
}

/**
 * A grant as a routing-key pattern: "agentA" -> "agentA/#", a trailing "*" level -> "#",
 * anything else must be a valid pattern over routing keys.
 */
export function normaliseGrant(grant: string): string {
  let g = grant.trim();
  if (g === "*" || g === "#") return "#";
  if (g.endsWith("/*")) g = g.slice(0, -1) + "#";
  if (!g.includes("/")) {
    if (g === "+") return "+/#";
    assertAgentId(g);
    return `${g}/#`;
  }
  const slash = g.indexOf("/");
  const agent = g.slice(0, slash);
  if (agent !== "+") assertAgentId(agent);
  assertChannelPattern(g.slice(slash + 1));
  return g;
}

export interface CreateTokenOptions {
  agentId: string;
  role: Role;
  grants?: string[];
  /** Lifetime in seconds (default 30 days). */
  ttlSeconds?: number;
  /** Current time, unix seconds (tests). */
  now?: number;
}

export function createToken(secret: string, options: CreateTokenOptions): string {
  assertAgentId(options.agentId);
  if (!ROLES.includes(options.role)) {
    throw new TagwireError("TAGWIRE_ERR_ARGUMENT", `role must be one of ${ROLES.join(", ")}, not ${JSON.stringify(options.role)}`);
  }
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const ttl = options.ttlSeconds ?? 30 * 24 * 3600;
  if (!(ttl > 0)) throw new TagwireError("TAGWIRE_ERR_ARGUMENT", "token lifetime must be positive");
  const claims: Record<string, unknown> = { a: options.agentId, r: options.role, e: now + Math.floor(ttl), i: now };
  if (options.grants?.length) claims.g = options.grants.map(normaliseGrant);
  const body = PREFIX + b64url(Buffer.from(JSON.stringify(claims), "utf8"));
  const token = `${body}.${b64url(sign(secret, body))}`;
  if (token.length > MAX_TOKEN_BYTES) throw new TagwireError("TAGWIRE_ERR_SIZE", "token too long (too many grants)");
  return token;
}

/** Checks signature, shape and expiry; throws TAGWIRE_ERR_AUTH with the reason. */
/** The token of an `Authorization: Bearer <token>` header (HTTP or gRPC metadata); undefined otherwise. */
export function bearerToken(header: string | undefined): string | undefined {
  const m = header === undefined ? null : /^bearer\s+(.*)$/is.exec(header);
  return m ? m[1]!.trim() : undefined;
}

export function verifyToken(secret: string, token: unknown, nowSeconds = Math.floor(Date.now() / 1000)): TokenClaims {
  const auth = (why: string) => new TagwireError("TAGWIRE_ERR_AUTH", `invalid token: ${why}`);
  if (typeof token !== "string" || token.length === 0) throw new TagwireError("TAGWIRE_ERR_AUTH", "no token");
  if (token.length > MAX_TOKEN_BYTES) throw auth("too long");
  if (!token.startsWith(PREFIX)) throw auth("not a tagwire token");
  const dot = token.lastIndexOf(".");
  if (dot <= PREFIX.length) throw auth("malformed");
  const body = token.slice(0, dot);
  // Compared as text against the one canonical encoding: Buffer's base64url decoder ignores
  // stray characters and trailing bits, so comparing decoded bytes would accept many spellings
  // of one signature (a malleable token).
  const given = Buffer.from(token.slice(dot + 1), "utf8");
  const expected = Buffer.from(b64url(sign(secret, body)), "utf8");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw auth("bad signature");
  let claims: any;
  try {
    claims = JSON.parse(Buffer.from(body.slice(PREFIX.length), "base64url").toString("utf8"));
  } catch {
    throw auth("malformed claims");
  }
  if (typeof claims?.a !== "string" || !ROLES.includes(claims.r) || typeof claims.e !== "number") throw auth("malformed claims");
  if (claims.e <= nowSeconds) throw new TagwireError("TAGWIRE_ERR_AUTH", `token expired at ${new Date(claims.e * 1000).toISOString()}`);
  const grants = Array.isArray(claims.g) ? claims.g.filter((g: unknown): g is string => typeof g === "string") : [];
  return { agentId: claims.a, role: claims.r, grants, expiresAt: claims.e, issuedAt: claims.i ?? 0 };
}
