// Reconnect delays: exponential growth with "equal jitter" (half fixed, half random), so a
// fleet of devices that lost the hub together does not return in lockstep, and no delay is
// ever near zero (full jitter can hammer a hub that just came back).
//   delay(n) = c/2 + random() * c/2,  c = min(maxMs, initialMs * factor^n)

export interface BackoffOptions {
  /** First delay ceiling (default 250 ms). */
  initialMs?: number;
  /** Largest delay ceiling (default 30 s). */
  maxMs?: number;
  /** Growth per failed attempt (default 2). */
  factor?: number;
  /** Source of randomness in [0, 1) (default Math.random); tests pass a seeded one. */
  random?: () => number;
}

export class Backoff {
  #attempt = 0;
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #factor: number;
  readonly #random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.#initialMs = options.initialMs ?? 250;
    this.#maxMs = options.maxMs ?? 30_000;
    this.#factor = options.factor ?? 2;
    this.#random = options.random ?? Math.random;
  }

  /** Failed attempts since the last `reset`. */
  get attempts(): number {
    return this.#attempt;
  }

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    const ceiling = Math.min(this.#maxMs, this.#initialMs * this.#factor ** this.#attempt);
    this.#attempt++;
    return ceiling / 2 + this.#random() * (ceiling / 2);
  }

  /** After a successful connection. */
  reset(): void {
    this.#attempt = 0;
  }
}
