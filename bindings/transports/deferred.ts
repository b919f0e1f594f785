// A transport whose real implementation is still being loaded (a dynamic import), so a URL
// protocol's code can stay out of a bundle until that protocol is used: connect() loads the MQTT
// pipe this way. The contract makes factories synchronous, so this stands in at once, in
// "connecting", and forwards to the real transport once the loader settles. A loader that fails
// closes it with TAGWIRE_ERR_UNAVAILABLE as the error, which the session treats like any other
// failed attempt (it backs off and retries, and a retry may load the code after all).

import { TagwireError } from "../core/errors.js";
import { BaseTransport, type Transport } from "./contract.js";

export class DeferredTransport extends BaseTransport {
  #inner: Transport | undefined;

  /** `load` resolves to the real factory; `what` names it in the error of a failed load. */
  constructor(load: () => Promise<() => Transport>, what: string) {
    super();
    // Settles after the factory has returned, so state events stay asynchronous.
    load().then(
      (factory) => this.#attach(factory),
      (err: unknown) => this.#fail(`cannot load ${what}: ${(err as Error)?.message ?? String(err)}`, err),
    );
  }

  override get bufferedAmount(): number {
    return this.#inner?.bufferedAmount ?? 0;
  }

  send(frame: Uint8Array): void {
    this.assertOpen(frame);
    this.#inner!.send(frame);
  }

  close(reason = "closed locally"): void {
    if (this.state === "closed") return;
    // The real transport reports its own local close, which reaches this one through #attach.
    if (this.#inner) this.#inner.close(reason);
    else this.closed({ reason, local: true });
  }

  #attach(factory: () => Transport): void {
    // Closed while loading: the real transport is never built.
    if (this.state === "closed") return;
    let inner: Transport;
    try {
      inner = factory();
    } catch (err) {
      this.closed({ reason: `cannot create a transport: ${(err as Error).message}`, error: err as Error });
      return;
    }
    this.#inner = inner;
    inner.onFrame((frame) => this.deliver(frame));
    inner.onState((change) => {
      if (change.state === "open") this.opened();
      else if (change.state === "closed") this.closed(change);
    });
    // A factory may hand over a transport that has already moved on.
    if (inner.state === "open") this.opened();
    else if (inner.state === "closed") this.closed({ reason: "closed before it was attached" });
  }

  #fail(message: string, cause: unknown): void {
    this.closed({ reason: message, error: new TagwireError("TAGWIRE_ERR_UNAVAILABLE", message, { cause }) });
  }
}
