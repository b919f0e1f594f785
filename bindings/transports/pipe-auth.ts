// Authentication of the MQTT frame pipe between a tagwire client and the hub's bridge
// (docs/PROTOCOL.md, "Frame pipes"). A broker is a shared space: anyone allowed on it may read
// and publish the pipe topics, so nothing on a pipe is a bearer credential and nothing received
// on one is trusted unless it is MACed with a key only the two ends can derive.
//
// A token is `claims.signature` where signature = HMAC(hubSecret, claims). The client knows the
// signature (it holds the token); the bridge recomputes it from the claims with the hub secret.
// So the claims go over the broker in the clear (they are not secret), and the signature only
// ever serves as a key:
//
//   K       = HMAC(signature, "tagwire pipe v1")
//   proof   = HMAC(K, "challenge" 0 clientId 0 clientNonce 0 bridgeNonce)[0..16]   (bridge -> client)
//   Ks      = HMAC(K, "session" 0 clientId 0 clientNonce 0 bridgeNonce)
//   mac     = HMAC(Ks, direction seq(4, BE) kind payload)[0..16]                    (every frame)
//
// Pure TypeScript (SHA-256 from FIPS 180-4) so the same code runs in browsers, synchronously,
// which keeps frames in order without a promise chain. Pipes carry telemetry batches, not bulk
// data, so its speed (tens of MB/s) is plenty.

const K_INIT = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be,
  0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa,
  0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85,
  0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
  0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
  0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const H_INIT = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
const W = new Uint32Array(64);

function compress(h: Uint32Array, block: Uint8Array, at: number): void {
  for (let i = 0; i < 16; i++) {
    const j = at + i * 4;
    W[i] = (block[j]! << 24) | (block[j + 1]! << 16) | (block[j + 2]! << 8) | block[j + 3]!;
  }
  for (let i = 16; i < 64; i++) {
    const a = W[i - 15]!;
    const b = W[i - 2]!;
    const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
    const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
    W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0;
  }
  let a = h[0]!,
    b = h[1]!,
    c = h[2]!,
    d = h[3]!,
    e = h[4]!,
    f = h[5]!,
    g = h[6]!,
    k = h[7]!;
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (k + S1 + ch + K_INIT[i]! + W[i]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = (S0 + maj) | 0;
    k = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  h[0] = h[0]! + a;
  h[1] = h[1]! + b;
  h[2] = h[2]! + c;
  h[3] = h[3]! + d;
  h[4] = h[4]! + e;
  h[5] = h[5]! + f;
  h[6] = h[6]! + g;
  h[7] = h[7]! + k;
}

/** SHA-256 of the concatenation of `parts`. */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  // One padded copy: pipe payloads are at most a few MiB.
  const total = Math.ceil((len + 9) / 64) * 64;
  const buf = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    buf.set(p, o);
    o += p.length;
  }
  buf[len] = 0x80;
  const bits = len * 8;
  const view = new DataView(buf.buffer);
  view.setUint32(total - 8, Math.floor(bits / 0x100000000));
  view.setUint32(total - 4, bits >>> 0);
  const h = new Uint32Array(H_INIT);
  for (let at = 0; at < total; at += 64) compress(h, buf, at);
  const out = new Uint8Array(32);
  const ov = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) ov.setUint32(i * 4, h[i]!);
  return out;
}

/** HMAC-SHA256(key, concatenation of `parts`) (RFC 2104). */
export function hmacSha256(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const k = new Uint8Array(64);
  k.set(key.length > 64 ? sha256(key) : key);
  const ipad = new Uint8Array(64);
  const opad = new Uint8Array(64);
  for (let i = 0; i < 64; i++) {
    ipad[i] = k[i]! ^ 0x36;
    opad[i] = k[i]! ^ 0x5c;
  }
  return sha256(opad, sha256(ipad, ...parts));
}

/** Constant-time equality of two byte strings (lengths are public). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

const te = new TextEncoder();
const td = new TextDecoder();
export const utf8 = (s: string): Uint8Array => te.encode(s);

export function b64url(bytes: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]!);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Decodes canonical unpadded base64url; undefined for anything else (so encodings are unique). */
export function fromB64url(s: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 === 1) return undefined;
  let bin: string;
  try {
    bin = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
  } catch {
    return undefined;
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return b64url(out) === s ? out : undefined;
}

export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  globalThis.crypto.getRandomValues(out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Envelopes: the first byte of every pipe payload says what it is.

export const PipeKind = {
  /** client -> bridge: JSON {v, claims, nonce, release} */
  open: 1,
  /** bridge -> client: JSON {nonce, proof} */
  challenge: 2,
  /** either way: seq(4) mac(16) batch */
  data: 3,
  /** either way: seq(4) mac(16) reason (UTF-8); the authenticated end of a pipe */
  close: 4,
  /** bridge -> client, unauthenticated: JSON {code, message}; the bridge will not relay this pipe */
  refuse: 5,
} as const;

export const PIPE_VERSION = 1;
const MAC_BYTES = 16;
const HEADER = 1 + 4 + MAC_BYTES;
export const Direction = { toHub: 0, toClient: 1 } as const;

/** The claims (public) and signature (secret) halves of a token; empty for no token. */
export function splitToken(token: string | undefined): { claims: string; signature: Uint8Array } {
  if (!token) return { claims: "", signature: new Uint8Array(0) };
  const dot = token.lastIndexOf(".");
  if (dot < 0) return { claims: token, signature: new Uint8Array(0) };
  return { claims: token.slice(0, dot), signature: fromB64url(token.slice(dot + 1)) ?? new Uint8Array(0) };
}

export function pipeKey(signature: Uint8Array): Uint8Array {
  return hmacSha256(signature, utf8("tagwire pipe v1"));
}

function context(label: string, clientId: string, clientNonce: string, bridgeNonce: string): Uint8Array {
  return utf8(`${label}\0${clientId}\0${clientNonce}\0${bridgeNonce}`);
}

export function challengeProof(key: Uint8Array, clientId: string, clientNonce: string, bridgeNonce: string): string {
  return b64url(hmacSha256(key, context("challenge", clientId, clientNonce, bridgeNonce)).subarray(0, MAC_BYTES));
}

export function sessionKey(key: Uint8Array, clientId: string, clientNonce: string, bridgeNonce: string): Uint8Array {
  return hmacSha256(key, context("session", clientId, clientNonce, bridgeNonce));
}

export function encodeJsonEnvelope(kind: number, value: unknown): Uint8Array {
  const body = utf8(JSON.stringify(value));
  const out = new Uint8Array(1 + body.length);
  out[0] = kind;
  out.set(body, 1);
  return out;
}

export function decodeJsonEnvelope(payload: Uint8Array): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(td.decode(payload.subarray(1))) as unknown;
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One direction-aware end of an authenticated pipe: seals outgoing payloads with the next
 * sequence number and opens incoming ones only when their MAC is right and their sequence number
 * is the next expected (a replayed, reordered or forged frame is refused).
 */
export class PipeCipher {
  private sendSeq = 0;
  private recvSeq = 0;

  constructor(
    private readonly key: Uint8Array,
    private readonly sendDir: number,
  ) {}

  seal(kind: number, payload: Uint8Array): Uint8Array {
    const seq = ++this.sendSeq;
    const out = new Uint8Array(HEADER + payload.length);
    out[0] = kind;
    new DataView(out.buffer).setUint32(1, seq);
    out.set(payload, HEADER);
    out.set(this.mac(this.sendDir, kind, seq, payload), 5);
    return out;
  }

  /**
   * The payload of an incoming data/close envelope, or a reason string when it is refused
   * (the caller drops it and may log the reason).
   */
  open(envelope: Uint8Array): { kind: number; payload: Uint8Array } | string {
    if (envelope.length < HEADER) return "truncated envelope";
    const kind = envelope[0]!;
    const seq = new DataView(envelope.buffer, envelope.byteOffset, envelope.byteLength).getUint32(1);
    const payload = envelope.subarray(HEADER);
    const expected = this.mac(1 - this.sendDir, kind, seq, payload);
    if (!equalBytes(expected, envelope.subarray(5, HEADER))) return "bad MAC";
    if (seq !== this.recvSeq + 1) return `sequence ${seq} where ${this.recvSeq + 1} was expected (replayed or reordered)`;
    this.recvSeq = seq;
    return { kind, payload };
  }

  private mac(dir: number, kind: number, seq: number, payload: Uint8Array): Uint8Array {
    const head = new Uint8Array(6);
    head[0] = dir;
    new DataView(head.buffer).setUint32(1, seq);
    head[5] = kind;
    return hmacSha256(this.key, head, payload).subarray(0, MAC_BYTES);
  }
}

// ---------------------------------------------------------------------------------------------
// Signed plain writes (P/set|put|post/...): the same key, over the topic, a timestamp and the
// payload, so a write proves its token without carrying it.

export function writeMac(key: Uint8Array, topic: string, ts: string, payload: Uint8Array): string {
  return b64url(hmacSha256(key, utf8(`write\0${topic}\0${ts}\0`), payload).subarray(0, MAC_BYTES));
}

/**
 * The MQTT 5 user properties that sign a plain JSON write to `topic` with `token`
 * (docs/PROTOCOL.md, "Writing"): `{claims, ts, mac}`.
 */
export function signMqttWrite(
  token: string,
  topic: string,
  payload: Uint8Array | string,
  now = Date.now(),
): { claims: string; ts: string; mac: string } {
  const { claims, signature } = splitToken(token);
  const ts = String(now);
  const bytes = typeof payload === "string" ? utf8(payload) : payload;
  return { claims, ts, mac: writeMac(pipeKey(signature), topic, ts, bytes) };
}
