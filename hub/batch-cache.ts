// The bytes of one outgoing batch, reused across the sockets of one flush. Consecutive outlets
// in a flush very often hold exactly the same frames (a broadcast): comparing the frame
// references is far cheaper than joining them again. The bytes are a whole WebSocket frame
// (ws-batch-write.ts): a server's frames are not masked, so one serves every connection.
import { joinFramed } from "./ws-batch-write.js";

export class BatchCache {
  private frames: Uint8Array[] | undefined;
  private bytes: Buffer | undefined;

  /** The framed batch for `frames` (the previous one when it holds the same frames). */
  join(frames: Uint8Array[]): Buffer {
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
    const bytes = joinFramed(frames);
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
