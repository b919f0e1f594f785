// The offline outbox: writes made while the session cannot reach the hub, kept in order until
// the hub has acknowledged each one. Two stores share this contract: MemoryOutbox (browsers,
// tests) and SqliteOutbox (Node, survives a restart; outbox-sqlite.ts). The API is synchronous
// because both stores are (better-sqlite3 commits in the call), so "queued" means "kept".
//
// Exactly once in effect: every entry carries the client write id it is sent with
// (`messageId` on the wire). An entry is marked `attempted` (durably) before its first send and
// is never changed after that, so a replay after a crash or a lost ack sends the very bytes the
// hub may already have applied, and the hub drops the duplicate by id (docs/PROTOCOL.md).
//
// Collapsing: a plain aggregate diff (no `log`) folds into the newest not-yet-attempted entry of
// the same channel when the two compose EXACTLY into one write (see `composeWrites`); a logged
// write or message is a history point and is never folded.

import type { Json } from "../sdk/session.js";

export type OutboxKind = "publish" | "message";

export interface OutboxWrite {
  kind: OutboxKind;
  /** Client write id: the wire `messageId`, so replays are idempotent. */
  id: string;
  agentId: string;
  channel: string;
  /** The diff (publish), the whole aggregate (publish with `replace`), or the message data. */
  data: Json;
  log?: boolean;
  replace?: boolean;
  replaceKeys?: string[];
}

export interface OutboxEntry extends OutboxWrite {
  /** Position in the outbox, increasing; also the order of sending. */
  seq: number;
  /** Possibly sent already: never folded into or changed again. */
  attempted: boolean;
}

export interface Outbox {
  /** Number of entries waiting. */
  readonly size: number;
  /**
   * Keeps `write` (durably, for a durable store) and returns the entry now holding it: a new
   * one, or an earlier entry of the same channel it was folded into. `attempted`: the write may
   * already have reached the hub (sent on a connection that then dropped): it is kept frozen,
   * never folded.
   */
  add(write: OutboxWrite, attempted?: boolean): OutboxEntry;
  /** Entries in sending order (oldest first), at most `limit`. */
  peek(limit?: number): OutboxEntry[];
  /** Durably marks entries as possibly sent; call before handing them to a transport. */
  markAttempted(seqs: readonly number[]): void;
  /** Forgets acknowledged (or permanently refused) entries. */
  remove(seqs: readonly number[]): void;
  close(): void;
}

/**
 * One write with the effect of `earlier` then `later` on the same channel, or undefined when
 * no single write says that exactly. Both are aggregate writes (kind "publish", no `log`).
 *
 * Merge semantics (Doover's apply_diff, the core, bindings/sdk/json.ts): an object diff merges
 * into an object (null deletes), lands on an absent key as an object with its nulls dropped,
 * and REPLACES a present non-object verbatim, nulls included. So patches do not compose in
 * general: `{a: 5}` then `{a: {x: 1}}` leaves `a` = `{x: 1}`, while one patch `{a: {x: 1}}`
 * would merge into whatever `a` held. What this folds, exactly:
 * - a later replace supersedes the earlier write entirely;
 * - a merge onto an earlier replace is applied for real (the earlier data is a whole state);
 * - two merges compose key by key at the top level (the aggregate is always an object there);
 *   below it, where both touch the same key with objects, they compose only if the later one
 *   holds no null inside (whether that null deletes or is stored verbatim depends on what the
 *   hub holds, which the outbox cannot know), and never where a later object meets an earlier
 *   non-object;
 * - writes with `replaceKeys` are left alone.
 */
export function composeWrites(earlier: OutboxWrite, later: OutboxWrite): { data: Json; replace: boolean } | undefined {
  if (earlier.kind !== "publish" || later.kind !== "publish" || earlier.log || later.log) return undefined;
  if (earlier.agentId !== later.agentId || earlier.channel !== later.channel) return undefined;
  if (later.replaceKeys?.length || earlier.replaceKeys?.length) return undefined;
  if (later.replace) return { data: later.data, replace: true };
  if (!isObject(later.data)) return undefined;
  if (earlier.replace) return { data: mergeInto(earlier.data, later.data), replace: true };
  if (!isObject(earlier.data)) return undefined;
  const data = composeDiffs(earlier.data, later.data, false);
  return data ? { data, replace: false } : undefined;
}

function isObject(v: unknown): v is { [k: string]: Json } {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function containsNull(v: Json): boolean {
  if (v === null) return true;
  if (Array.isArray(v) || typeof v !== "object") return false;
  for (const k of Object.keys(v)) if (containsNull(v[k]!)) return true;
  return false;
}

/** Applies merge patch `diff` to a known state, with the semantics above; returns a new value. */
function mergeInto(state: Json | undefined, diff: { [k: string]: Json }): Json {
  if (state !== undefined && !isObject(state)) return diff;
  const out: { [k: string]: Json } = { ...(state ?? {}) };
  for (const k of Object.keys(diff)) {
    const d = diff[k]!;
    if (d === null) delete out[k];
    else if (isObject(d)) out[k] = mergeInto(Object.prototype.hasOwnProperty.call(out, k) ? out[k] : undefined, d);
    else out[k] = d;
  }
  return out;
}

function composeDiffs(a: { [k: string]: Json }, b: { [k: string]: Json }, nested: boolean): { [k: string]: Json } | undefined {
  if (nested && containsNull(b)) return undefined;
  const out: { [k: string]: Json } = { ...a };
  for (const k of Object.keys(b)) {
    const v = b[k]!;
    if (!isObject(v) || !Object.prototype.hasOwnProperty.call(a, k)) {
      out[k] = v;
      continue;
    }
    const prev = a[k]!;
    if (!isObject(prev)) return undefined;
    const inner = composeDiffs(prev, v, true);
    if (!inner) return undefined;
    out[k] = inner;
  }
  return out;
}

/** Folds `write` into `entry` when exact (mutating a copy); undefined when it cannot. */
export function foldInto(entry: OutboxEntry, write: OutboxWrite): OutboxEntry | undefined {
  if (entry.attempted) return undefined;
  const composed = composeWrites(entry, write);
  if (composed === undefined) return undefined;
  const next: OutboxEntry = { ...entry, data: composed.data };
  if (composed.replace) next.replace = true;
  return next;
}

/** In-memory outbox (browsers; or Node without `outboxDir`): kept for the life of the session. */
export class MemoryOutbox implements Outbox {
  #entries: OutboxEntry[] = [];
  #head = 0;
  #nextSeq = 1;
  /** Newest entry per routing key, for folding. */
  readonly #lastByKey = new Map<string, OutboxEntry>();

  get size(): number {
    return this.#entries.length - this.#head;
  }

  add(write: OutboxWrite, attempted = false): OutboxEntry {
    const key = `${write.agentId}/${write.channel}`;
    const last = this.#lastByKey.get(key);
    if (last && !attempted && !write.log && write.kind === "publish") {
      const folded = foldInto(last, write);
      if (folded) {
        const i = this.#entries.indexOf(last, this.#head);
        if (i >= 0) {
          this.#entries[i] = folded;
          this.#lastByKey.set(key, folded);
          return folded;
        }
      }
    }
    const entry: OutboxEntry = { ...copyWrite(write), seq: this.#nextSeq++, attempted };
    this.#entries.push(entry);
    this.#lastByKey.set(key, entry);
    return entry;
  }

  peek(limit = Infinity): OutboxEntry[] {
    return this.#entries.slice(this.#head, limit === Infinity ? undefined : this.#head + limit);
  }

  markAttempted(seqs: readonly number[]): void {
    const set = new Set(seqs);
    for (let i = this.#head; i < this.#entries.length; i++) {
      const e = this.#entries[i]!;
      if (set.has(e.seq) && !e.attempted) {
        const marked = { ...e, attempted: true };
        this.#entries[i] = marked;
        const key = `${e.agentId}/${e.channel}`;
        if (this.#lastByKey.get(key) === e) this.#lastByKey.set(key, marked);
      }
    }
  }

  remove(seqs: readonly number[]): void {
    if (seqs.length === 0) return;
    const set = new Set(seqs);
    const kept: OutboxEntry[] = [];
    for (let i = this.#head; i < this.#entries.length; i++) {
      const e = this.#entries[i]!;
      if (set.has(e.seq)) {
        const key = `${e.agentId}/${e.channel}`;
        if (this.#lastByKey.get(key) === e) this.#lastByKey.delete(key);
      } else kept.push(e);
    }
    this.#entries = kept;
    this.#head = 0;
  }

  close(): void {
    // Nothing to release; entries stay readable for a last look.
  }
}

function copyWrite(w: OutboxWrite): OutboxWrite {
  const out: OutboxWrite = { kind: w.kind, id: w.id, agentId: w.agentId, channel: w.channel, data: w.data };
  if (w.log) out.log = true;
  if (w.replace) out.replace = true;
  if (w.replaceKeys?.length) out.replaceKeys = [...w.replaceKeys];
  return out;
}
