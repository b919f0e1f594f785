// Small integer handles over raw blocks, so JavaScript holds a number instead of an address: the
// one handle table of the core (routers, stores, pipelines, rolling windows, throttles), so a stale
// or foreign handle is detected instead of dereferenced.
// Table layout: `slots` is an array of usize. Slot h (h >= 1) holds a block address, or, when
// free, (next free slot << 1) | 1: block addresses are 16-aligned, so the low bit tells the two
// apart. Slot 0 is never used, so handle 0 is invalid. Freed slots are reused first.

@unmanaged
export class HandleTable {
  slots: usize = 0;
  cap: i32 = 0;
  used: i32 = 1;
  free: i32 = 0;

  /** The block behind handle `h`, or 0 when `h` is not a live handle. */
  // @ts-ignore: decorator
  @inline get(h: i32): usize {
    if (h < 1 || h >= this.used) return 0;
    const v = load<usize>(this.slots + (<usize>h << alignof<usize>()));
    return v & 1 ? 0 : v;
  }

  /** One past the highest handle ever claimed: live handles are in [1, limit). */
  // @ts-ignore: decorator
  @inline get limit(): i32 {
    return this.used;
  }

  /** A handle for `block` (16-aligned, non-zero). */
  claim(block: usize): i32 {
    let h = this.free;
    if (h) {
      this.free = <i32>(load<usize>(this.slots + (<usize>h << alignof<usize>())) >> 1);
    } else {
      if (this.used >= this.cap) {
        const cap = this.cap ? this.cap << 1 : 16;
        const bytes = <usize>cap << alignof<usize>();
        this.slots = this.slots ? heap.realloc(this.slots, bytes) : heap.alloc(bytes);
        this.cap = cap;
      }
      h = this.used++;
    }
    store<usize>(this.slots + (<usize>h << alignof<usize>()), block);
    return h;
  }

  /** Frees handle `h` (a live one) for reuse; the block itself is the caller's to free. */
  release(h: i32): void {
    store<usize>(this.slots + (<usize>h << alignof<usize>()), (<usize>this.free << 1) | 1);
    this.free = h;
  }
}
