// tagwire names <-> NATS subjects and KV keys, reversibly.
//
// A tagwire level is 1+ characters of `A-Z a-z 0-9 _ . : -`; levels are joined by `/`. A NATS
// subject is tokens joined by `.`, a token may hold any printable character but `.` (and `*`/`>`
// alone are wildcards). So a routing key `agent/l1/l2` becomes the tokens `agent.l1.l2`, where each
// `.` inside a level is written `%2E` (`%` never occurs in a tagwire name, so the mapping is
// reversible, and `*`/`>` cannot occur at all). `:`, `_` and `-` pass through. Every legal tagwire
// name is thus a legal subject: a 255-byte routing key is at most 3 x 255 bytes of tokens, far
// below the server's 4 KiB control-line limit.
//
// KV keys are stricter (`[-/_=.a-zA-Z0-9]+`): there a routing key keeps its `/`, and `.` and `:`
// are written `=2E` and `=3A` (`=` never occurs in a tagwire name).

/** One tagwire level (or agent id) as a subject token. */
export function levelToToken(level: string): string {
  return level.indexOf(".") === -1 ? level : level.replaceAll(".", "%2E");
}

export function tokenToLevel(token: string): string {
  return token.indexOf("%") === -1 ? token : token.replaceAll("%2E", ".");
}

/** `agent` + `a/b.c` -> `agent.a.b%2Ec` (the part after a subject prefix). */
export function routeToSubject(agentId: string, channel: string): string {
  return `${levelToToken(agentId)}.${channel.split("/").map(levelToToken).join(".")}`;
}

/** Inverse of `routeToSubject`: the tokens after the prefix. */
export function subjectToRoute(tokens: string): { agentId: string; channel: string } {
  const parts = tokens.split(".");
  const agentId = tokenToLevel(parts[0]!);
  return { agentId, channel: parts.slice(1).map(tokenToLevel).join("/") };
}

/** A routing key `agent/a/b.c:d` as a KV key `agent/a/b=2Ec=3Ad`. */
export function routeToKvKey(agentId: string, channel: string): string {
  return `${agentId}/${channel}`.replaceAll(".", "=2E").replaceAll(":", "=3A");
}

export function kvKeyToRoute(key: string): { agentId: string; channel: string } {
  const route = key.replaceAll("=2E", ".").replaceAll("=3A", ":");
  const slash = route.indexOf("/");
  return { agentId: route.slice(0, slash), channel: route.slice(slash + 1) };
}

/** Stream and bucket names allow `A-Z a-z 0-9 _ -`: the cluster name must be one of those. */
export function assertClusterName(name: string): void {
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(name)) throw new Error(`cluster name must be 1..32 of A-Z a-z 0-9 _ -, not ${JSON.stringify(name)}`);
}
