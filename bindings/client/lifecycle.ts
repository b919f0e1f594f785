// Connection lifecycle: one transport per attempt, retried with backoff and jitter (backoff.ts)
// until stopped. Each attempt gets a generation number; frames and state changes of an older
// attempt are ignored, so a late event of a dead socket can never touch the current one.
//
//   attempt -> transport "open"   -> hooks.opened   (the session sends its hello)
//           -> established()       (hello acked: backoff reset, hello timer off)
//           -> transport "closed" -> hooks.lost     (the session cleans up and calls retry())
//
// An attempt not established within `helloTimeoutMs` of opening is dropped. A factory that
// throws counts as a connection lost at once.

import type { Transport, TransportStateChange } from "../transports/contract.js";
import type { Backoff } from "./backoff.js";

export interface ConnectionHooks {
  opened(transport: Transport): void;
  frame(bytes: Uint8Array): void;
  lost(change: TransportStateChange): void;
}

export interface ConnectionOptions {
  /** Builds the transport of one attempt. */
  transport: () => Transport;
  backoff: Backoff;
  helloTimeoutMs: number;
  hooks: ConnectionHooks;
}

export class Connection {
  readonly #options: ConnectionOptions;
  #current: Transport | undefined;
  #generation = 0;
  #stopped = false;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #helloTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: ConnectionOptions) {
    this.#options = options;
  }

  /** Bumped per attempt (and on stop). */
  get gen(): number {
    return this.#generation;
  }

  /** Starts an attempt now. */
  attempt(): void {
    if (this.#stopped) return;
    const gen = ++this.#generation;
    let transport: Transport;
    try {
      transport = this.#options.transport();
    } catch (err) {
      const error = err as Error;
      this.#options.hooks.lost({ state: "closed", reason: `cannot create a transport: ${error.message}`, error });
      return;
    }
    this.#current = transport;
    transport.onFrame((bytes) => {
      if (gen === this.#generation) this.#options.hooks.frame(bytes);
    });
    transport.onState((change) => {
      if (gen !== this.#generation) return;
      if (change.state === "open") this.#opened(transport, gen);
      else if (change.state === "closed") {
        this.#current = undefined;
        this.#clearHelloTimer();
        this.#options.hooks.lost(change);
      }
    });
  }

  /** The hub accepted the hello: the next failure starts again from the shortest delay. */
  established(): void {
    this.#clearHelloTimer();
    this.#options.backoff.reset();
  }

  /** Closes the current transport (its "closed" reaches hooks.lost). */
  drop(reason: string): void {
    this.#current?.close(reason);
  }

  /** Schedules the next attempt after the backoff delay. */
  retry(): void {
    if (this.#stopped || this.#retryTimer) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.attempt();
    }, this.#options.backoff.next());
  }

  /**
   * No more attempts; events of the current transport are ignored from now on. Returns the
   * transport still open, for the caller to close once it has settled what was in flight.
   */
  stop(): Transport | undefined {
    this.#stopped = true;
    this.#generation++;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#clearHelloTimer();
    const t = this.#current;
    this.#current = undefined;
    return t;
  }

  #opened(transport: Transport, gen: number): void {
    const { helloTimeoutMs } = this.#options;
    this.#helloTimer = setTimeout(() => {
      this.#helloTimer = undefined;
      if (gen === this.#generation) transport.close(`no hello reply in ${helloTimeoutMs} ms`);
    }, helloTimeoutMs);
    (this.#helloTimer as { unref?: () => void }).unref?.();
    this.#options.hooks.opened(transport);
  }

  #clearHelloTimer(): void {
    if (this.#helloTimer) clearTimeout(this.#helloTimer);
    this.#helloTimer = undefined;
  }
}
