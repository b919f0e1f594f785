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

const incomplete = () => new TagwireError("TAGWIRE_ERR_INCOMPLETE", "document ends in the middle of a value");

export function checkDocument(bytes: Uint8Array, maxDepth: number, maxBytes: number): void {
  const end = bytes.length;
  if (end > maxBytes) throw new TagwireError("TAGWIRE_ERR_SIZE", `document of ${end} bytes (limit ${maxBytes})`);
  // remaining[d] = values still to read in the container open at depth d; even/odd tracks map
  // keys (a map of n entries needs 2n values; keys sit at even positions).
  // Scratch stacks reused across calls (the walk is synchronous): allocating two typed arrays
  // per document cost more than the walk itself on the hub's hot path. Every level is written
  // when its container opens, so stale values are never read. No closures either (three per
  // call cost a third of the walk): lengths are read inline, after checking they are there.
  if (scratchRemaining.length < maxDepth + 2) {
    scratchRemaining = new Float64Array(maxDepth + 2);
    scratchIsMap = new Uint8Array(maxDepth + 2);
  }
  const remaining = scratchRemaining;
  const isMap = scratchIsMap;
  let depth = 0;
  let left = 1; // remaining[depth], kept in a local
  let inMap = false; // isMap[depth] === 1
  let pos = 0;
  while (true) {
    while (left === 0) {
      if (depth === 0) {
        if (pos !== end) throw new TagwireError("TAGWIRE_ERR_MSGPACK", "bytes after the document");
        return;
      }
      depth--;
      left = remaining[depth]!;
      inMap = isMap[depth] === 1;
    }
    const keyPosition = inMap && (left & 1) === 0;
    left--;
    if (pos >= end) throw incomplete();
    const b = bytes[pos++]!;
    if (b < 0x80 || b >= 0xe0) {
      // positive or negative fixint
      if (keyPosition) throw new TagwireError("TAGWIRE_ERR_MSGPACK", "map keys must be strings");
      continue;
    }
    if (b >= 0xa0 && b <= 0xbf) {
      pos += b & 0x1f;
      if (pos > end) throw incomplete();
      continue;
    }
    let strLen = -1;
    let container = -1;
    let map = false;
    if (b >= 0x90 && b <= 0x9f) container = b & 0x0f;
    else if (b <= 0x8f) {
      container = (b & 0x0f) * 2;
      map = true;
    } else {
      // Every remaining type has a fixed-size part after its type byte: check it is there once.
      let extra: number;
      switch (b) {
        case 0xc0:
        case 0xc2:
        case 0xc3:
          extra = 0;
          break;
        case 0xcc:
        case 0xd0:
        case 0xd9:
          extra = 1;
          break;
        case 0xcd:
        case 0xd1:
        case 0xda:
        case 0xdc:
        case 0xde:
          extra = 2;
          break;
        case 0xce:
        case 0xd2:
        case 0xca:
        case 0xdb:
        case 0xdd:
        case 0xdf:
          extra = 4;
          break;
        case 0xcf:
        case 0xd3:
        case 0xcb:
          extra = 8;
          break;
        default:
          throw new TagwireError("TAGWIRE_ERR_MSGPACK", `msgpack type 0x${b.toString(16)} has no place in a document`);
      }
      if (pos + extra > end) throw incomplete();
      if (b === 0xd9) strLen = bytes[pos]!;
      else if (b === 0xda || b === 0xdc || b === 0xde) {
        const n = (bytes[pos]! << 8) | bytes[pos + 1]!;
        if (b === 0xda) strLen = n;
        else container = b === 0xdc ? n : n * 2;
      } else if (b === 0xdb || b === 0xdd || b === 0xdf) {
        const n = ((bytes[pos]! << 24) >>> 0) + ((bytes[pos + 1]! << 16) | (bytes[pos + 2]! << 8) | bytes[pos + 3]!);
        if (b === 0xdb) strLen = n;
        else container = b === 0xdd ? n : n * 2;
      }
      map = b === 0xde || b === 0xdf;
      pos += extra;
    }
    if (keyPosition && strLen < 0) throw new TagwireError("TAGWIRE_ERR_MSGPACK", "map keys must be strings");
    if (strLen >= 0) {
      if (pos + strLen > end) throw incomplete();
      pos += strLen;
    } else if (container >= 0) {
      if (depth + 1 > maxDepth) throw new TagwireError("TAGWIRE_ERR_DEPTH", `document nested deeper than ${maxDepth}`);
      // Each value takes at least one byte: a count beyond the bytes left cannot be complete.
      if (container > end - pos) throw new TagwireError("TAGWIRE_ERR_INCOMPLETE", "document ends inside a container");
      remaining[depth] = left;
      depth++;
      left = container;
      inMap = map;
      isMap[depth] = map ? 1 : 0;
    }
  }
}
