// Random identifiers for clients, connections and viewers: hex from the platform's CSPRNG, so the
// same code runs in Node and in browsers. An id names a session on a shared broker or hub, so it
// must not be guessable from another client's.

/** `bytes` random bytes as lowercase hex (2 characters per byte). */
export function randomId(bytes = 8): string {
  const buf = new Uint8Array(bytes);
  globalThis.crypto.getRandomValues(buf);
  let s = "";
  for (const b of buf) s += b.toString(16).padStart(2, "0");
  return s;
}
