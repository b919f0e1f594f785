// Liveness while online: a ping every `intervalMs`; one unanswered for `timeoutMs` means the
// connection is dead even if the socket has not noticed (a NAT that dropped it, a frozen peer),
// so `dead` is called and the session drops it and reconnects.

export interface KeepaliveOptions {
  /** 0 disables pinging. */
  intervalMs: number;
  timeoutMs: number;
  /** Sends one ping; settles with the reply (a rejection ends the wait without a verdict). */
  ping(): Promise<unknown>;
  /** A ping went unanswered. */
  dead(reason: string): void;
}

export class Keepalive {
  readonly #options: KeepaliveOptions;
  #interval: ReturnType<typeof setInterval> | undefined;
  readonly #timeouts = new Set<ReturnType<typeof setTimeout>>();

  constructor(options: KeepaliveOptions) {
    this.#options = options;
  }

  /** Starts pinging (restarts if already running). */
  start(): void {
    this.stop();
    if (this.#options.intervalMs <= 0) return;
    this.#interval = setInterval(() => this.#probe(), this.#options.intervalMs);
    (this.#interval as { unref?: () => void }).unref?.();
  }

  /** Stops pinging and forgets pings in flight. */
  stop(): void {
    if (this.#interval) clearInterval(this.#interval);
    this.#interval = undefined;
    for (const t of this.#timeouts) clearTimeout(t);
    this.#timeouts.clear();
  }

  #probe(): void {
    const { timeoutMs } = this.#options;
    const timer = setTimeout(() => {
      this.#timeouts.delete(timer);
      this.#options.dead(`ping unanswered for ${timeoutMs} ms`);
    }, timeoutMs);
    this.#timeouts.add(timer);
    const answered = () => {
      clearTimeout(timer);
      this.#timeouts.delete(timer);
    };
    this.#options.ping().then(answered, answered);
  }
}
