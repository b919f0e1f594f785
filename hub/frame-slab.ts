// Bytes for the frames the hub writes per request (acks), bump-allocated from one shared slab:
// a run of acks to one connection lands back to back and goes out as one view, instead of a
// Buffer per ack joined later. Bytes once handed out are never rewritten (ws may hold them until
// the socket drains): a full slab is left to the views still holding it and a new one begins.
const SLAB_BYTES = 64 * 1024;

export class FrameSlab {
  buf: Uint8Array = Buffer.allocUnsafeSlow(SLAB_BYTES);
  private used = 0;

  /** The offset of `size` fresh bytes in `buf` (which may be a new slab afterwards). */
  take(size: number): number {
    if (this.used + size > this.buf.length) {
      this.buf = Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, size));
      this.used = 0;
    }
    const at = this.used;
    this.used += size;
    return at;
  }
}
