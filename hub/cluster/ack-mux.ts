// JetStream appends with their acks multiplexed on ONE inbox subscription.
//
// A JetStream publish is a core NATS publish with a reply subject; the stream's leader answers
// there with `{"stream": ..., "seq": n}` (or `{"error": {...}}`) once the message is stored (on a
// quorum with replicas). nats.js's `js.publish` makes each one a request: a reply mapping, a timer
// and a promise chain per write, plus the headers of a de-duplication id. Here every append is a
// bare publish whose reply subject is `<inbox>.<n>`, one subscription receives all acks, and one
// sweep fails the appends that waited longer than the timeout. Appends are not retried (a client
// retry is a new record), so no de-duplication id is needed.
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { randomId } from "../../bindings/protocol/ids.js";

interface Waiting {
  resolve(seq: number): void;
  reject(err: Error): void;
  sentMs: number;
}

export class AckMux {
  private readonly nc: NatsConnection;
  private readonly inbox = `_INBOX.tw${randomId(8)}`;
  private readonly sub: Subscription;
  private readonly waiting = new Map<number, Waiting>();
  private next = 1;
  private readonly sweep: NodeJS.Timeout;
  private readonly timeoutMs: number;

  constructor(nc: NatsConnection, timeoutMs: number) {
    this.nc = nc;
    this.timeoutMs = timeoutMs;
    const prefix = this.inbox.length + 1;
    this.sub = nc.subscribe(`${this.inbox}.*`, {
      callback: (err, msg) => {
        if (err) return;
        const w = this.waiting.get(Number(msg.subject.slice(prefix)));
        if (!w) return;
        this.waiting.delete(Number(msg.subject.slice(prefix)));
        // "No responders" (no stream on that subject) comes as an empty status message.
        if (msg.data.length === 0) return w.reject(new Error(`no stream answered (status ${msg.headers?.code ?? "?"})`));
        try {
          const ack = JSON.parse(msg.string()) as { seq?: number; error?: { description?: string } };
          if (ack.error || typeof ack.seq !== "number") w.reject(new Error(ack.error?.description ?? "JetStream refused the append"));
          else w.resolve(ack.seq);
        } catch (e) {
          w.reject(e as Error);
        }
      },
    });
    this.sweep = setInterval(() => this.expire(), Math.max(50, Math.min(1000, timeoutMs / 4)));
    this.sweep.unref();
  }

  /** Publishes `data` on `subject`; resolves with the stream sequence once JetStream stored it. */
  append(subject: string, data: Uint8Array): Promise<number> {
    const n = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(n, { resolve, reject, sentMs: Date.now() });
      try {
        this.nc.publish(subject, data, { reply: `${this.inbox}.${n}` });
      } catch (err) {
        this.waiting.delete(n);
        reject(err as Error);
      }
    });
  }

  private expire(): void {
    const cutoff = Date.now() - this.timeoutMs;
    for (const [n, w] of this.waiting) {
      // Insertion order is send order: the first one still in time ends the scan.
      if (w.sentMs > cutoff) break;
      this.waiting.delete(n);
      w.reject(new Error(`no JetStream ack within ${this.timeoutMs} ms`));
    }
  }

  close(): void {
    clearInterval(this.sweep);
    this.sub.unsubscribe();
    for (const w of this.waiting.values()) w.reject(new Error("closed"));
    this.waiting.clear();
  }
}
