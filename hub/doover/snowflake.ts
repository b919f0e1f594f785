// Doover's snowflake ids, as pydoover reads and builds them (pydoover/utils/snowflake.py):
//
//   bit 63..22  milliseconds since DOOVER_EPOCH (2025-01-01T00:00:00Z)
//   bit 21..18  region (0 here)
//   bit 17..8   instance (here: low bits of a hash of the tagwire id, see `messageSnowflake`)
//   bit  7..4   type (SnowflakeType: 2 = message, 3 = channel, 1 = agent, ...)
//   bit  3..0   sequence / random
//
// pydoover turns a datetime bound into `generate_snowflake_id_at(t)` (all low bits 0), so a
// `before`/`after` query is a time with 22 bits of tie-break below it.
import { TagwireError } from "../../bindings/core/errors.js";

export const DOOVER_EPOCH_MS = 1735689600000;
export const SnowflakeType = { unknown: 0, agent: 1, message: 2, channel: 3, alarm: 10, oneShot: 11 } as const;

const TIME_SHIFT = 22n;
const MAX_U64 = (1n << 64n) - 1n;

/** The snowflake for a time and 22 low bits (instance/type/sequence already packed). */
export function snowflakeAt(ms: number, low22: number): bigint {
  const since = BigInt(Math.max(0, Math.floor(ms) - DOOVER_EPOCH_MS));
  return (since << TIME_SHIFT) | BigInt(low22 & 0x3fffff);
}

/** Milliseconds since the Unix epoch encoded in a snowflake. */
export function snowflakeTime(id: bigint): number {
  return Number(id >> TIME_SHIFT) + DOOVER_EPOCH_MS;
}

/** 32-bit FNV-1a of a string (stable across processes: ids must be the same after a restart). */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * The Doover id of a tagwire message. Messages created through the Doover API are stored under
 * their snowflake's decimal text, so the id is that number again. Any other message (written by
 * the native API, MQTT, the SDK) gets a snowflake derived from its stored time and a hash of its
 * tagwire id: deterministic, so the same message has the same id in every answer and after a
 * restart, and `messageById` can find it again from the time in its top bits.
 */
export function messageSnowflake(tagwireId: string, ts: number): bigint {
  if (/^[0-9]{1,20}$/.test(tagwireId)) {
    const n = BigInt(tagwireId);
    if (n <= MAX_U64) return n;
  }
  const h = fnv1a32(tagwireId);
  // instance = 10 hash bits, type = message, sequence = 4 more hash bits.
  const low = ((h & 0x3ff) << 8) | (SnowflakeType.message << 4) | ((h >>> 10) & 0xf);
  return snowflakeAt(ts, low);
}

/** Parses a snowflake (decimal, as pydoover sends it in paths and queries). */
export function parseSnowflake(text: string | null | undefined, what: string): bigint | undefined {
  if (text === null || text === undefined || text === "") return undefined;
  if (!/^[0-9]{1,20}$/.test(text))
    throw new TagwireError(
      "TAGWIRE_ERR_ARGUMENT",
      `${what} must be a snowflake id (an unsigned integer), not ${JSON.stringify(text.slice(0, 40))}`,
    );
  const n = BigInt(text);
  if (n > MAX_U64) throw new TagwireError("TAGWIRE_ERR_ARGUMENT", `${what} is larger than 64 bits`);
  return n;
}

/**
 * Allocates snowflakes for new messages: time from the caller's `ts` (or now) and a 14-bit
 * counter in the instance and sequence bits (random start per process), so up to 16,384 ids
 * in one millisecond differ. Across restarts a collision within one millisecond is possible;
 * the store refuses a duplicate id and the caller takes the next one.
 */
export class SnowflakeAllocator {
  private counter: number;

  constructor(start = Math.floor(Math.random() * 0x4000)) {
    this.counter = start & 0x3fff;
  }

  next(ms: number, type: number = SnowflakeType.message): bigint {
    const c = this.counter;
    this.counter = (c + 1) & 0x3fff;
    return snowflakeAt(ms, (((c >>> 4) & 0x3ff) << 8) | ((type & 0xf) << 4) | (c & 0xf));
  }
}
