// The bytes of one outgoing batch, reused across the sockets of one flush. Consecutive outlets
// in a flush very often hold exactly the same frames (a broadcast): comparing the frame
// references is far cheaper than joining them again.
import { joinFrames } from "../bindings/protocol/frames.js";

export class BatchCache {
  private frames: Uint8Array[] | undefined;
  private bytes: Uint8Array | undefined;

  /** The batch bytes for `frames` (the previous batch when it holds the same frames). */
  join(frames: Uint8Array[]): Uint8Array {
    const last = this.frames;
    if (last && last.length === frames.length) {
      let same = true;
      for (let i = 0; i < frames.length; i++) {
        if (last[i] !== frames[i]) {
          same = false;
          break;
        }
      }
      if (same) return this.bytes!;
    }
    const bytes = joinFrames(frames);
    this.frames = frames;
    this.bytes = bytes;
    return bytes;
  }

  /** Forgets the last batch (its frames may be reused once the flush is over). */
  reset(): void {
    this.frames = undefined;
    this.bytes = undefined;
  }
}
