// The in-core publish path: one call takes a whole protocol batch (docs/PROTOCOL.md), merges
// every publish frame into a ChannelStore, routes it through a Router and returns, per frame, the
// status, new version, effective diff and subscriber list, all read in place from linear memory.
import type { CoreInstance } from "./instance.js";
import type { ChannelStore } from "./store.js";
import type { Router } from "./router.js";
import { TagwireError, statusError } from "./errors.js";
import {
  APPLY_DO_DELETE,
  PIPELINE_NOT_HANDLED,
  PIPELINE_RECORD_CHANGED as CHANGED,
  PIPELINE_RECORD_CHANNEL_ID as CHANNEL_ID,
  PIPELINE_RECORD_DIFF_LEN as DIFF_LEN,
  PIPELINE_RECORD_DIFF_OFF as DIFF_OFF,
  PIPELINE_RECORD_FAN_COUNT as FAN_COUNT,
  PIPELINE_RECORD_FAN_OFF as FAN_OFF,
  PIPELINE_RECORD_FRAME_LEN as FRAME_LEN,
  PIPELINE_RECORD_FRAME_OFF as FRAME_OFF,
  PIPELINE_RECORD_REQ_ID as REQ_ID,
  PIPELINE_RECORD_SIZE as RECORD,
  PIPELINE_RECORD_SLOT as SLOT,
  PIPELINE_RECORD_STATUS as STATUS,
  PIPELINE_RECORD_TYPE as TYPE,
  PIPELINE_RECORD_VERSION as VERSION,
} from "./layout.generated.js";

// Records are PIPELINE_RECORD in assembly/layout.json (generated into layout.generated.ts).
/** Status of frames the pipeline only located (not publishes): decode them in JavaScript. */
export const NOT_HANDLED = PIPELINE_NOT_HANDLED;

export interface IngestOptions {
  /** Refuse publishes to channels of any other agent (a device connection's own id). */
  writerAgentId?: string;
  /** Doover's do_delete for every publish in the batch (default true: null removes a key). */
  doDelete?: boolean;
}

/**
 * The outcome of one ingest. Its accessors read the core's output region directly, so they are
 * valid only until the next call into the same core: copy what must outlive it.
 */
export class IngestResult {
  /** Number of frames in the batch. */
  count = 0;
  private base = 0;
  private batch: Uint8Array = new Uint8Array(0);
  // Views of the whole linear memory, taken once per ingest (memory cannot grow until the next
  // call into the core, which also ends this result's validity).
  private u8: Uint8Array = new Uint8Array(0);
  private u32: Uint32Array = new Uint32Array(0);
  private f64: Float64Array = new Float64Array(0);

  constructor(private readonly instance: CoreInstance) {}

  /** @internal */
  reset(count: number, batch: Uint8Array): void {
    this.count = count;
    // The output region is a heap block (16-byte aligned) and records are a multiple of 8 bytes
    // with naturally aligned fields (gen-layout checks), so every field sits at an index of the
    // u32 / f64 views.
    this.base = this.instance.exports.ioOutPtr();
    this.batch = batch;
    this.u8 = this.instance.u8;
    this.u32 = this.instance.u32;
    this.f64 = this.instance.f64;
  }

  /** Byte address of frame i's record. */
  private rec(i: number): number {
    if (!(i >= 0 && i < this.count)) throw new TagwireError("TAGWIRE_ERR_ARGUMENT", `no frame ${i} in this batch`);
    return this.base + i * RECORD;
  }

  /** 0 for an applied publish, NOT_HANDLED for other frame types, else a core status. */
  status(i: number): number {
    return this.u32[(this.rec(i) + STATUS) >>> 2]! | 0;
  }
  /** The TagwireError for a refused publish, or undefined. */
  error(i: number): TagwireError | undefined {
    const s = this.status(i);
    return s > 0 ? statusError(s, `frame ${i}`) : undefined;
  }
  type(i: number): number {
    return this.u32[(this.rec(i) + TYPE) >>> 2]!;
  }
  /** The frame's own bytes (a view of the caller's batch). */
  frame(i: number): Uint8Array {
    const r = this.rec(i);
    const off = this.u32[(r + FRAME_OFF) >>> 2]!;
    return this.batch.subarray(off, off + this.u32[(r + FRAME_LEN) >>> 2]!);
  }
  reqId(i: number): number {
    return this.u32[(this.rec(i) + REQ_ID) >>> 2]!;
  }
  version(i: number): number {
    return this.f64[(this.rec(i) + VERSION) >>> 3]!;
  }
  changed(i: number): boolean {
    return this.u32[(this.rec(i) + CHANGED) >>> 2] !== 0;
  }
  /** Store slot of the routing key (`agentId/channel`). */
  slot(i: number): number {
    return this.u32[(this.rec(i) + SLOT) >>> 2]! | 0;
  }
  /** Router channel id of the routing key. */
  channelId(i: number): number {
    return this.u32[(this.rec(i) + CHANNEL_ID) >>> 2]! | 0;
  }
  // Allocation-free reading for hot loops (one subarray per frame costs more than the merge of a
  // small diff): the byte range of frame i's diff inside `bytes`, and the index range of its
  // fan-out ids inside `words`. Same validity as the views: until the next call into the core.

  /** All of linear memory as bytes, for diffStart/diffLength. */
  get bytes(): Uint8Array {
    return this.u8;
  }
  /** All of linear memory as u32s, for fanoutStart/fanoutCount. */
  get words(): Uint32Array {
    return this.u32;
  }
  /** Offset in `bytes` of frame i's effective diff (what diff(i) views). */
  diffStart(i: number): number {
    return this.base + this.u32[(this.rec(i) + DIFF_OFF) >>> 2]!;
  }
  diffLength(i: number): number {
    return this.u32[(this.rec(i) + DIFF_LEN) >>> 2]!;
  }
  /** Index in `words` of frame i's first subscriber id (what fanout(i) views). */
  fanoutStart(i: number): number {
    return (this.base + this.u32[(this.rec(i) + FAN_OFF) >>> 2]!) >>> 2;
  }
  fanoutCount(i: number): number {
    return this.u32[(this.rec(i) + FAN_COUNT) >>> 2]!;
  }

  /** The effective diff as msgpack (a view into the core). */
  diff(i: number): Uint8Array {
    const r = this.rec(i);
    const off = this.base + this.u32[(r + DIFF_OFF) >>> 2]!;
    return this.u8.subarray(off, off + this.u32[(r + DIFF_LEN) >>> 2]!);
  }
  /** Subscriber ids to fan the change out to, ascending and unique (a view into the core). */
  fanout(i: number): Uint32Array {
    const r = this.rec(i);
    const at = (this.base + this.u32[(r + FAN_OFF) >>> 2]!) >>> 2;
    return this.u32.subarray(at, at + this.u32[(r + FAN_COUNT) >>> 2]!);
  }
}

export class Pipeline {
  private readonly handle: number;
  private readonly result: IngestResult;

  constructor(
    private readonly instance: CoreInstance,
    store: ChannelStore,
    router: Router,
  ) {
    const ex = instance.exports;
    this.handle = ex.pipelineCreate(store.coreHandle, router.coreHandle);
    this.result = new IngestResult(instance);
  }

  /**
   * Runs a batch through the core. Throws a TagwireError (nothing applied) when the batch as a
   * whole is unreadable: not msgpack, cut short (`incomplete`), trailing bytes, over 1024 frames.
   * Individual frames that are refused report their status in the result instead.
   */
  ingest(batch: Uint8Array, options: IngestOptions = {}): IngestResult {
    this.instance.check();
    const ex = this.instance.exports;
    let writerLen = 0;
    const w = options.writerAgentId;
    if (w !== undefined) {
      // The writer id follows the batch in the input region.
      const ptr = this.instance.reserveIn(batch.length + w.length * 3);
      this.instance.u8.set(batch, ptr);
      writerLen = this.instance.writeInString(w, batch.length);
    } else {
      this.instance.writeIn(batch);
    }
    const n = ex.pipelineIngest(this.handle, batch.length, writerLen, options.doDelete === false ? 0 : APPLY_DO_DELETE);
    if (n < 0) throw statusError(-n, "ingest batch");
    this.result.reset(n, batch);
    return this.result;
  }

  dispose(): void {
    this.instance.exports.pipelineDispose(this.handle);
  }
}
