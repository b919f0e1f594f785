// The msgpack configuration every tagwire peer uses, the document check the hub runs before
// storing, and (re-exported from msgpack-bytes.ts) the hand-written header writers of the hub's
// hot path (event frames built by splicing bytes the core already produced).
import { Packr } from "msgpackr";
import { TagwireError } from "../core/errors.js";

export {
  uintSize,
  writeUint,
  strHeaderSize,
  writeStrHeader,
  binHeaderSize,
  writeBinHeader,
  arrayHeaderSize,
  writeArrayHeader,
  mapHeaderSize,
  writeMapHeader,
  utf8Length,
  writeStr,
  encodeStr,
} from "./msgpack-bytes.js";

/**
 * One Packr for envelopes and documents: plain maps (no msgpackr record extension, which other
 * msgpack implementations cannot read), 64-bit integers decoded as numbers (documents are JSON
 * values; above 2^53 precision is lost, as in JSON), bin decoded as a view of the input.
 */
export const packr = new Packr({
  useRecords: false,
  mapsAsObjects: true,
  // fixmap/map16/map32 by size, as other msgpack encoders write them (msgpackr's default is
  // always map16, 2 bytes longer for small maps).
  variableMapSize: true,
  int64AsType: "number",
  moreTypes: false,
});

/** msgpack bytes of one value (a document, or anything else the protocol carries). */
export function encodeValue(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** The value held by msgpack bytes; throws msgpackr's error (with `incomplete`) on bad input. */
export function decodeValue(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}

/**
 * Checks that `bytes` hold exactly one document the data model accepts: msgpack nil, bool, int,
 * float, str, array and map with str keys (no bin, no extension types, no 0xc1), nested at most
 * `maxDepth` containers deep, at most `maxBytes` long. Walks the bytes without building values
 * (the hub checks message data this way before storing it). Throws a TagwireError with
 * TAGWIRE_ERR_SIZE, _INCOMPLETE, _DEPTH or _MSGPACK.
 */
let scratchRemaining = new Float64Array(66);
let scratchIsMap = new Uint8Array(66);

export function checkDocument(bytes: Uint8Array, maxDepth: number, maxBytes: number): void {
  const end = bytes.length;
  if (end > maxBytes) throw new TagwireError("TAGWIRE_ERR_SIZE", `document of ${end} bytes (limit ${maxBytes})`);
  // remaining[d] = values still to read in the container open at depth d; even/odd tracks map
  // keys (a map of n entries needs 2n values; keys sit at even positions).
  // Scratch stacks reused across calls (the walk is synchronous): allocating two typed arrays
  // per document cost more than the walk itself on the hub's hot path. Every level is written
  // when its container opens, so stale values are never read.
  if (scratchRemaining.length < maxDepth + 2) {
    scratchRemaining = new Float64Array(maxDepth + 2);
    scratchIsMap = new Uint8Array(maxDepth + 2);
  }
  const remaining = scratchRemaining;
  const isMap = scratchIsMap;
  let depth = 0;
  remaining[0] = 1;
  isMap[0] = 0;
  let pos = 0;
  const need = (n: number) => {
    if (pos + n > end) throw new TagwireError("TAGWIRE_ERR_INCOMPLETE", "document ends in the middle of a value");
  };
  const u16 = () => (bytes[pos]! << 8) | bytes[pos + 1]!;
  const u32 = () => ((bytes[pos]! << 24) >>> 0) + ((bytes[pos + 1]! << 16) | (bytes[pos + 2]! << 8) | bytes[pos + 3]!);
  while (true) {
    while (remaining[depth] === 0) {
      if (depth === 0) {
        if (pos !== end) throw new TagwireError("TAGWIRE_ERR_MSGPACK", "bytes after the document");
        return;
      }
      depth--;
    }
    const keyPosition = isMap[depth] === 1 && remaining[depth]! % 2 === 0;
    remaining[depth]!--;
    need(1);
    const b = bytes[pos++]!;
    let strLen = -1;
    let container = -1;
    let map = false;
    if (b < 0x80 || b >= 0xe0) {
      // positive or negative fixint
    } else if (b >= 0xa0 && b <= 0xbf) strLen = b & 0x1f;
    else if (b >= 0x90 && b <= 0x9f) container = b & 0x0f;
    else if (b >= 0x80 && b <= 0x8f) {
      container = (b & 0x0f) * 2;
      map = true;
    } else {
      switch (b) {
        case 0xc0:
        case 0xc2:
        case 0xc3:
          break;
        case 0xcc:
        case 0xd0:
          need(1);
          pos += 1;
          break;
        case 0xcd:
        case 0xd1:
          need(2);
          pos += 2;
          break;
        case 0xce:
        case 0xd2:
        case 0xca:
          need(4);
          pos += 4;
          break;
        case 0xcf:
        case 0xd3:
        case 0xcb:
          need(8);
          pos += 8;
          break;
        case 0xd9:
          need(1);
          strLen = bytes[pos]!;
          pos += 1;
          break;
        case 0xda:
          need(2);
          strLen = u16();
          pos += 2;
          break;
        case 0xdb:
          need(4);
          strLen = u32();
          pos += 4;
          break;
        case 0xdc:
          need(2);
          container = u16();
          pos += 2;
          break;
        case 0xdd:
          need(4);
          container = u32();
          pos += 4;
          break;
        case 0xde:
          need(2);
          container = u16() * 2;
          map = true;
          pos += 2;
          break;
        case 0xdf:
          need(4);
          container = u32() * 2;
          map = true;
          pos += 4;
          break;
        default:
          throw new TagwireError("TAGWIRE_ERR_MSGPACK", `msgpack type 0x${b.toString(16)} has no place in a document`);
      }
    }
    if (keyPosition && strLen < 0) throw new TagwireError("TAGWIRE_ERR_MSGPACK", "map keys must be strings");
    if (strLen >= 0) {
      need(strLen);
      pos += strLen;
    } else if (container >= 0) {
      if (depth + 1 > maxDepth) throw new TagwireError("TAGWIRE_ERR_DEPTH", `document nested deeper than ${maxDepth}`);
      // Each value takes at least one byte: a count beyond the bytes left cannot be complete.
      if (container > end - pos) throw new TagwireError("TAGWIRE_ERR_INCOMPLETE", "document ends inside a container");
      depth++;
      remaining[depth] = container;
      isMap[depth] = map ? 1 : 0;
    }
  }
}
