// Tokens, the hub secret, roles and grants (docs/PROTOCOL.md, "Authentication and roles").
//
// token = "tw1." base64url(JSON claims) "." base64url(HMAC-SHA256(secret, "tw1." base64url(claims)))
// claims = {"a": agentId, "r": role, "g"?: [grant], "e": expiry unix s, "i": issued unix s}
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TagwireError } from "../bindings/core/errors.js";
import { assertAgentId, assertChannelPattern, matchPattern } from "../bindings/sdk/names.js";

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

/** What a connection or HTTP request may do, derived from its token (or from --no-auth). */
export interface Principal {
  agentId: string;
  role: Role | "anonymous";
  /** Routing-key patterns readable (normalised; a device's own `agentId/#` included). */
  readable: string[];
  /** True with --no-auth: writes anything. */
  unrestricted: boolean;
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
export function verifyToken(secret: string, token: unknown, nowSeconds = Math.floor(Date.now() / 1000)): TokenClaims {
  const auth = (why: string) => new TagwireError("TAGWIRE_ERR_AUTH", `invalid token: ${why}`);
  if (typeof token !== "string" || token.length === 0) throw new TagwireError("TAGWIRE_ERR_AUTH", "no token");
  if (token.length > MAX_TOKEN_BYTES) throw auth("too long");
  if (!token.startsWith(PREFIX)) throw auth("not a tagwire token");
  const dot = token.lastIndexOf(".");
  if (dot <= PREFIX.length) throw auth("malformed");
  const body = token.slice(0, dot);
  const given = Buffer.from(token.slice(dot + 1), "base64url");
  const expected = sign(secret, body);
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

export function principalOf(claims: TokenClaims): Principal {
  // Grants are normalised when a token is created; doing it again costs little and keeps a
  // hand-written claim ("agentA") meaning what the docs say.
  const grants: string[] = [];
  for (const g of claims.grants) {
    try {
      grants.push(normaliseGrant(g));
    } catch {
      // an invalid grant grants nothing
    }
  }
  // "No grants" means everything for viewers and operators; grants that were all invalid mean nothing.
  const readable = claims.role === "device" ? [`${claims.agentId}/#`, ...grants] : claims.grants.length ? grants : ["#"];
  return { agentId: claims.agentId, role: claims.role, readable, unrestricted: false };
}

/** The principal of every connection and request when the hub runs with --no-auth. */
export function anonymousPrincipal(agentId: string): Principal {
  return { agentId, role: "anonymous", readable: ["#"], unrestricted: true };
}

/** May `p` read the channel with this routing key? */
export function canRead(p: Principal, key: string): boolean {
  for (const g of p.readable) if (g === "#" || matchPattern(g, key)) return true;
  return false;
}

/** May `p` write (publish, createMessage) this channel? */
export function canWrite(p: Principal, agentId: string, channel: string): boolean {
  if (p.unrestricted) return true;
  if (p.role === "device") return agentId === p.agentId;
  if (p.role === "operator") return channel === "ui_cmds" && canRead(p, `${agentId}/${channel}`);
  return false;
}

/**
 * True when every routing key `pattern` can match is matched by `grant` (both MQTT patterns over
 * routing keys, which always have at least two levels).
 */
export function patternCovers(grant: string, pattern: string): boolean {
  if (grant === "#") return true;
  const g = grant.split("/");
  const p = pattern.split("/");
  for (let i = 0; i < g.length; i++) {
    const gl = g[i]!;
    if (gl === "#") return true;
    if (i >= p.length) return false;
    const pl = p[i]!;
    if (pl === "#") return false; // p reaches any depth, g stops here
    if (gl === "+") continue;
    if (pl === "+" || pl !== gl) return false;
  }
  return p.length === g.length;
}

/** May `p` subscribe to this routing-key pattern? (every match must be readable) */
export function canSubscribe(p: Principal, pattern: string): boolean {
  for (const g of p.readable) if (patternCovers(g, pattern)) return true;
  return false;
}
