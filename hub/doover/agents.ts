// Doover names agents by 64-bit integers; tagwire by strings ("pump-7"). pydoover int()s every
// agent id it reads (ChannelID.agent_id, Message.author_id, Channel.owner_id), so answers must
// carry integers:
//   - an agent id made of digits ("1234567890") is that integer, both ways;
//   - any other agent id maps to 2^62 | 62 hash bits of its name (stable, no storage needed),
//     and a request naming that integer is resolved back through the agents the hub knows.
// Requests may always use the tagwire agent id itself in the path.
import { fnv1a32 } from "./snowflake.js";

const MAX_U64 = (1n << 64n) - 1n;
const DERIVED = 1n << 62n;

function fnv1a32Seeded(text: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function dooverAgentId(agentId: string): bigint {
  if (/^[0-9]{1,20}$/.test(agentId)) {
    const n = BigInt(agentId);
    if (n <= MAX_U64) return n;
  }
  const hi = BigInt(fnv1a32(agentId) & 0x3fffffff);
  const lo = BigInt(fnv1a32Seeded(agentId, 0x9e3779b9));
  return DERIVED | (hi << 32n) | lo;
}

/**
 * The tagwire agent id a path segment names: a derived integer of a known agent maps back to
 * that agent, anything else is the agent id as written.
 */
export function resolveAgent(segment: string, knownAgents: () => Iterable<string>): string {
  if (!/^[0-9]{19,20}$/.test(segment)) return segment;
  const n = BigInt(segment);
  if ((n & DERIVED) === 0n || n > MAX_U64) return segment;
  for (const a of knownAgents()) if (dooverAgentId(a) === n) return a;
  return segment;
}
