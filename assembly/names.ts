// The tagwire naming rule shared by the router, the store and the pipeline: a level is 1+ bytes of
// [A-Za-z0-9_.:-]; a channel name is levels joined by "/"; an agent id is a single level.
// One 256-byte table answers "may this byte stand in a level" with one load.

const LEVEL_BYTES: usize = buildLevelBytes();

function buildLevelBytes(): usize {
  const t = heap.alloc(256);
  memory.fill(t, 0, 256);
  for (let c = 0x30; c <= 0x39; c++) store<u8>(t + c, 1);
  for (let c = 0x41; c <= 0x5a; c++) store<u8>(t + c, 1);
  for (let c = 0x61; c <= 0x7a; c++) store<u8>(t + c, 1);
  store<u8>(t + 0x5f, 1); // _
  store<u8>(t + 0x2e, 1); // .
  store<u8>(t + 0x3a, 1); // :
  store<u8>(t + 0x2d, 1); // -
  return t;
}

/** Whether byte `c` may appear in a level. */
// @ts-ignore: decorator
@inline export function isLevelByte(c: u32): bool {
  return load<u8>(LEVEL_BYTES + <usize>(c & 0xff)) != 0;
}

/** Whether (p, n) is one level of 1..255 bytes (an agent id). */
export function validLevel(p: usize, n: u32): bool {
  if (n < 1 || n > 255) return false;
  for (let i: u32 = 0; i < n; i++) if (!isLevelByte(<u32>load<u8>(p + <usize>i))) return false;
  return true;
}
