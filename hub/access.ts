// Who may do what: the one place the hub's access rules live (docs/PROTOCOL.md,
// "Authentication and roles"). The WebSocket handlers, the HTTP API and (through the hub
// connections it opens) the MQTT bridge all ask these functions; none re-implements a rule.
import { TagwireError } from "../bindings/core/errors.js";
import { matchPattern } from "../bindings/sdk/names.js";
import { normaliseGrant, verifyToken, type Role, type TokenClaims } from "./auth.js";

/** What a connection or HTTP request may do, derived from its token (or from --no-auth). */
export interface Principal {
  agentId: string;
  role: Role | "anonymous";
  /** Routing-key patterns readable (normalised; a device's own `agentId/#` included). */
  readable: string[];
  /** True with --no-auth: writes anything. */
  unrestricted: boolean;
  /** The token's expiry, unix seconds (none with --no-auth). */
  expiresAt?: number;
}

/** Who presents `token` for `agentId` (undefined: any agent): the token checked, or anonymous with auth off. */
export function authenticate(auth: { auth: boolean; secret: string }, token: unknown, agentId?: string): Principal {
  if (!auth.auth) return anonymousPrincipal(agentId ?? "http");
  const claims = verifyToken(auth.secret, token);
  if (agentId !== undefined && claims.agentId !== agentId) {
    throw new TagwireError("TAGWIRE_ERR_AUTH", `the token is for agent ${claims.agentId}, not ${agentId}`);
  }
  return principalOf(claims);
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
  return { agentId: claims.agentId, role: claims.role, readable, unrestricted: false, expiresAt: claims.expiresAt };
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

/** Throws TAGWIRE_ERR_FORBIDDEN unless `p` may read `agentId/channel`. */
export function assertRead(p: Principal, agentId: string, channel: string): void {
  if (!canRead(p, `${agentId}/${channel}`))
    throw new TagwireError("TAGWIRE_ERR_FORBIDDEN", `${p.agentId} may not read ${agentId}/${channel}`);
}

/** Throws TAGWIRE_ERR_FORBIDDEN unless `p` may write `agentId/channel`. */
export function assertWrite(p: Principal, agentId: string, channel: string): void {
  if (!canWrite(p, agentId, channel))
    throw new TagwireError("TAGWIRE_ERR_FORBIDDEN", `${p.role} ${p.agentId} may not write ${agentId}/${channel}`);
}

/** Throws TAGWIRE_ERR_FORBIDDEN unless `p` may read every key `routePattern` can match. */
export function assertSubscribe(p: Principal, routePattern: string): void {
  if (!canSubscribe(p, routePattern))
    throw new TagwireError("TAGWIRE_ERR_FORBIDDEN", `not allowed to read everything ${routePattern} matches`);
}

/** The names among `agentId`'s channels that `p` may read (listChannels). */
export function readableNames(p: Principal, agentId: string, names: readonly string[]): string[] {
  return names.filter((n) => canRead(p, `${agentId}/${n}`));
}
