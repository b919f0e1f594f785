// Results whose documents are decoded on first read. A device's publish ack carries the effective
// diff, and most callers read only the version (the SDK's agents do); decoding the diff, and the
// objects that makes, cost more per write than the rest of the ack. So the result is a Proxy
// (LAZY) over a plain object whose document fields hold a Packed until their first read, which
// decodes them in place. Every way of reading a field ends in the `get` trap (spread,
// Object.keys/entries, JSON.stringify and deep equality list the target's keys, then get each),
// so the result reads as the plain object it was; writes go to the object as before. Unlike a
// plain object it cannot be passed to structuredClone, and util.inspect and
// Object.getOwnPropertyDescriptor see a field not read yet as the Packed (as LocalBus's lazy
// results do). A document that does not decode (a hub at fault) throws where it is read, not by
// rejecting the write it acknowledges (the write was applied either way).

import { decodeDoc } from "./wire.js";

/**
 * A document still in msgpack: a view of the batch its frame came in (as every document is until
 * decoded), so an unread result keeps that batch's bytes alive while it is kept. Copying them
 * would cost more than the decoding saved; and the view keeps the batch's class (a Buffer in
 * Node), so the document decodes exactly as it would have at once.
 */
export class Packed {
  constructor(readonly bytes: Uint8Array) {}
}

/** `new Proxy(target, LAZY)` reads as `target`, its Packed fields decoded (once) on first read. */
export const LAZY: ProxyHandler<Record<PropertyKey, unknown>> = {
  get: (t, k) => {
    const v = t[k];
    return v instanceof Packed ? (t[k] = decodeDoc(v.bytes)) : v;
  },
};
