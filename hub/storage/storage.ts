// The hub's storage seam: one interface, two implementations planned. The hub takes one through
// `startHub({ storage })` (default: SQLite in the data dir) and opens and closes it.
//
//   sqlite.ts     single hub (the default). The hub orders writes itself, applies each one at
//                 once and records its effects in one SQLite transaction per event-loop tick.
//   (jetstream)   cluster mode (issue 10). The order of writes is the order of a JetStream
//                 stream; every hub applies that stream, so all hubs agree on versions,
//                 aggregates and effective diffs.
//
// test/support/storage-contract.ts is the contract as a test suite that takes a factory: every
// implementation runs it (test/hub.storage.*.test.ts). test/support/queued-storage.ts is SQLite
// behind a FIFO with ordering "log", to exercise the hub's log-ordering path without NATS.
//
// The model both follow: storage is an ORDERED, DURABLE LOG OF WRITE INPUTS plus a place to keep
// what applying them produced. A hub never merges a write in any other way than by being handed
// it by its storage through `WriteSink.apply`, in the storage's order:
//
//      client ──frame──▶ hub (validate) ──submit(write, done)──▶ Storage ──orders──┐
//                                                                                  │
//            every hub: sink.apply(write) in log order ◀───────────────────────────┘
//                       (core merge, version, fan-out, recording calls below)
//            the submitting hub only: done(outcome) after its own apply ──▶ ack to the client
//
// Who calls what, where:
//   - `submit` is called only on the hub that received the write (WebSocket, HTTP, MQTT bridge).
//   - `WriteSink.apply` is called on EVERY hub, once per write, in the one order the storage
//     chose, including the submitting hub and including writes submitted elsewhere.
//   - the recording calls (`createChannel`, `claimWriteId`, `appendMessage`, ...) are made by
//     the applier during `apply`, synchronously, on every hub.
//   - `saveAggregate` and `commit` are made by the hub's tick (hub/tick.ts) once per event-loop
//     turn in which something was applied; reads come from request handlers.
//
// What is durable when (the rule the hub relies on): a reply or event frame that a hub queues
// while applying a write leaves the hub only after that tick's commit is durable. `commit()`
// either returns undefined, meaning everything applied before it is durable on return, or a
// promise that resolves once everything committed up to that call is durable (and rejects if
// that cannot be done: fail-stop). The tick (hub/tick.ts) seals the frames and commit callbacks
// of each tick into a commit group and releases a group only when its commit is durable, in
// commit order, while it goes on reading and applying later writes:
//   - ordering "local" (SQLite): the writes' effects were recorded in an open transaction; the
//     default makes the COMMIT durable with an fsync of the WAL off the event loop (a promise;
//     commits made while one fsync is in flight share the next: one fsync per group, pipelined),
//     or inline with SQLite's synchronous=FULL (undefined).
//   - ordering "log" (JetStream): the storage hands `apply` only writes the log has already made
//     durable (JetStream's publish ack, R3 quorum), so commit has nothing to wait for; it may
//     start asynchronous work (an aggregate snapshot) and return undefined.
//
// Failure: a recording call, `saveAggregate` or `commit` that throws means this hub's memory and
// its storage no longer agree; the hub stops (fail-stop, hub/tick.ts) and a restart reloads what
// is durable. A log that cannot take a write at the moment (NATS unreachable) must not throw from
// `submit`: it calls `done` with a TagwireError (TAGWIRE_ERR_CLOSED today; cluster mode may add a
// dedicated "unavailable" code) and the hub stays up.
//
// Notes for a log-ordered implementation:
//   - The recording calls answer synchronously, from what THIS hub has applied: `claimWriteId`,
//     `appendMessage` (its duplicate answer) and `findMessage` decide idempotency inside `apply`,
//     so they read an index the storage keeps as writes are applied (ids of kept messages with
//     their ts and data, ids of unlogged writes). Every hub applies the same writes in the same
//     order, so every hub gives the same answer.
//   - Message history may live in the log itself: `appendMessage` then only indexes, and
//     `messages` reads the log (asynchronously). `trimMessages`/`expireMessages` may leave the
//     work to the log's own limits and return 0 / an empty map.
//   - Call `sink.apply` on the sink object given to `open` (the contract suite observes it).
import type { TagwireError } from "../../bindings/core/errors.js";

/**
 * Who decides the order in which writes to a channel are applied.
 *   "local": the hub that receives a write; `submit` applies it before returning (so `done` has
 *            run when `submit` returns) and the hub's core pipeline may apply a whole batch of
 *            publishes in one call (the fast path), recording its effects the same way.
 *   "log":   the storage's log; `done` runs later, after the write came back from the log and was
 *            applied here. The fast path is off: every write goes through `submit`.
 */
export type WriteOrdering = "local" | "log";

/** The inputs of a publish, everything every hub needs to apply it identically. */
export interface PublishWrite {
  readonly kind: "publish";
  readonly agentId: string;
  readonly channel: string;
  /** msgpack map: merge patch, or the whole aggregate with `replace`. Checked by the submitter. */
  readonly diff: Uint8Array;
  readonly replace: boolean;
  /** Top-level keys replaced whole instead of merged (at most 64, each at most 255 bytes). */
  readonly replaceKeys: string[] | undefined;
  /** Also append `diff` to the channel's message log. */
  readonly log: boolean;
  /**
   * The client's idempotency id. A write whose id the channel already holds (a logged message
   * with that id, or an unlogged publish recorded by `claimWriteId`) is acknowledged with the
   * current version and changes nothing.
   */
  readonly messageId: string | undefined;
  /**
   * The id a logged message gets when `messageId` is absent. Chosen by the submitting hub (not
   * by the applier) so every hub gives the message the same id.
   */
  readonly logId: string | undefined;
  /** The submitting hub's clock (ms since the epoch): the message timestamp when logged. */
  readonly ts: number;
  /** The agent id of the principal that wrote it (for the record; the applier does not read it). */
  readonly author: string | undefined;
}

/** The inputs of a createMessage: append `data` to a channel's log. */
export interface MessageWrite {
  readonly kind: "message";
  readonly agentId: string;
  readonly channel: string;
  /** msgpack document, checked (depth, size) by the submitter. */
  readonly data: Uint8Array;
  /** Client idempotency id; see PublishWrite.messageId. */
  readonly messageId: string | undefined;
  /** Id used when `messageId` is absent; see PublishWrite.logId. */
  readonly logId: string | undefined;
  readonly ts: number;
  readonly author: string | undefined;
}

export type Write = PublishWrite | MessageWrite;

/** A message of a channel's log. */
export interface StoredMessage {
  id: string;
  /** ms since the epoch, set by the hub that submitted it. */
  ts: number;
  /** msgpack document. */
  data: Uint8Array;
}

/** What applying one write produced (the same on every hub for the same write). */
export interface WriteOutcome {
  /** The channel's version after the write (unchanged for a replay or a no-op write). */
  version: number;
  /** The effective diff (msgpack); `{}` when nothing changed. Owned by the caller. */
  diff: Uint8Array;
  /** The logged message (for a replay: the one stored first under that id). */
  message: StoredMessage | undefined;
}

/**
 * Called on the submitting hub once its write was applied here (`outcome`) or refused (`error`:
 * a TagwireError the client should see, e.g. the core refused the diff, or the log is down).
 * With ordering "local" it runs inside `submit`.
 */
export type WriteDone = (outcome: WriteOutcome | undefined, error: TagwireError | Error | undefined) => void;

/** A channel as storage holds it, handed to `WriteSink.restore` when a hub starts. */
export interface StoredChannel {
  /** The storage's number for the channel: passed back in every per-channel call. */
  id: number;
  agent: string;
  name: string;
  /** Versions rise by exactly 1 per effective change; 0 = never published to. */
  version: number;
  /** msgpack bytes of the aggregate at `version`, or null while the channel has only messages. */
  aggregate: Uint8Array | null;
  /** Messages currently in the channel's log (drives count retention). */
  messageCount: number;
}

/** The hub side of the seam: what a storage calls (hub/state.ts implements it). */
export interface WriteSink {
  /**
   * During `open`, once per stored channel, before any `apply`: puts the channel, its aggregate
   * and version back into this hub's core.
   */
  restore(channel: StoredChannel): void;
  /**
   * Applies one write on this hub: core merge, version, fan-out to local subscribers, and the
   * recording calls. Called in the storage's order, exactly once per write per hub. Returns the
   * outcome; throws a TagwireError when the write is refused (a diff the core rejects) — that
   * is deterministic, so every hub refuses the same write and nothing of it is recorded.
   */
  apply(write: Write): WriteOutcome;
}

export interface Storage {
  /** "sqlite", "jetstream": for logs and /health. */
  readonly kind: string;
  readonly ordering: WriteOrdering;

  /**
   * Loads what is durable: `sink.restore` for every channel, then (ordering "log") applies
   * through `sink.apply` whatever the log holds past the restored state, then keeps delivering
   * new writes (local and remote) as they arrive. Resolves when the hub may serve: it never
   * serves a version older than one a previous run served. Called once.
   */
  open(sink: WriteSink): Promise<void>;

  /**
   * Hands a validated write to the log. The storage orders it, `sink.apply` runs on every hub,
   * and `done` runs here after the local apply (or with the refusal). Never throws for a write:
   * errors go to `done`. With ordering "local", `done` has run when `submit` returns and the
   * write is durable at the tick's `commit`; with "log", it is durable before `done` runs.
   */
  submit(write: Write, done: WriteDone): void;

  // --- Recording: called by the applier inside `apply` (or the fast path), synchronously, on
  //     every hub. Part of the current tick; durable per the rule in the header.

  /** Records a new channel; returns its storage id. */
  createChannel(agentId: string, name: string, nowMs: number): number;
  /**
   * Records that an UNLOGGED publish with id `id` was applied to the channel. False (and
   * nothing recorded) when the id was recorded before: the write is a replay.
   */
  claimWriteId(channelId: number, id: string, ts: number): boolean;
  /** Forgets a claim made earlier in this same `apply` (the core refused the diff after all). */
  releaseWriteId(channelId: number, id: string): void;
  /** Appends a message; false (nothing written) when the channel already holds `id`. */
  appendMessage(channelId: number, id: string, ts: number, data: Uint8Array): boolean;
  /** A message of the channel by id, including ones appended earlier in this tick. */
  findMessage(channelId: number, id: string): StoredMessage | undefined;
  /**
   * Optional: replaces a stored message's data in the current tick (Doover's message update,
   * hub/doover/). A storage whose history is an append-only log leaves it out; the Doover
   * surfaces then answer 501 for message updates.
   */
  updateMessageData?(channelId: number, id: string, data: Uint8Array): boolean;
  /**
   * Deletes all but the newest `keep` messages of a channel; returns how many went. `count`, when
   * given, is exactly how many messages the channel holds (the hub counts every append and
   * removal): storage may use it to find the cut faster, and may ignore it.
   */
  trimMessages(channelId: number, keep: number, count?: number): number;
  /**
   * Deletes messages (and unlogged-write ids) older than `cutoffMs`; returns removed message
   * counts by channel id. Expired write ids must count as absent from then on (`claimWriteId`
   * claims them anew); storage may delete their records later. Called on a timer on every hub; a log with its own age limit (JetStream
   * max_age) may return an empty map.
   */
  expireMessages(cutoffMs: number): Map<number, number>;

  // --- The tick (hub/tick.ts), once per event-loop turn with work.

  /**
   * The channel's aggregate after every write applied so far in this tick; called at the end of
   * the tick for each channel whose version changed, just before `commit`. (A log-ordered
   * storage keeps it as a snapshot, with the log position it reflects, for fast starts.)
   */
  saveAggregate(channelId: number, version: number, aggregate: Uint8Array, nowMs: number): void;
  /** True when something was recorded since the last commit. */
  readonly hasUncommitted: boolean;
  /**
   * Commits everything applied so far: durable on return (undefined) or when the returned
   * promise resolves; a rejection is fail-stop, as a throw is (see the header).
   */
  commit(): Promise<void> | undefined;
  /** Drops what was recorded since the last commit (after a failure; best effort). */
  rollback(): void;

  // --- Reads.

  /**
   * Messages with after < ts < before, the newest `limit` of them, oldest first; with `maxBytes`,
   * only the newest whose data fits in it (at least one): the hub's reply budget.
   */
  messages(channelId: number, before: number, after: number, limit: number, maxBytes?: number): StoredMessage[] | Promise<StoredMessage[]>;

  /**
   * Stops delivering and releases the storage once a commit's durability work in flight has
   * ended; what was not committed is dropped.
   */
  close(): Promise<void>;
}
