// The channel router: MQTT-style patterns -> subscriber ids, many routers per instance.
//
// Names (the tagwire rule). A channel name is 1..255 UTF-8 bytes made of levels separated by "/";
// no level is empty (no leading, trailing or doubled "/"), and every level is made only of
// [A-Za-z0-9_.:-]. A pattern is written the same way, except that a level may be exactly "+"
// (any one level) and the LAST level may be exactly "#" (zero or more remaining levels, so "a/#"
// matches "a" as in MQTT). The SDK routes on `${agentId}/${channel}`, so "+/sensors/#" is normal.
// Anything else is ERR_NAME and changes nothing.
//
// Tables, all raw heap memory (no GC work when routing):
//
//   node pool  24 bytes per node, indexed by node number (node 0 is the root):
//              [plus i32][parent i32][label i32][children i32][exact usize][rest usize]
//              plus     node reached through a "+" level, 0 if none
//              parent   parent node (next free node while on the free list)
//              label    interned id of the level leading here, -1 for "+"
//              children number of literal edges out of this node (for pruning)
//              exact    subscriber list of patterns ending here
//              rest     subscriber list of patterns ending here with "/#" (or "#" at the root)
//   edges      literal children, one open-addressing table per router keyed by
//              (node, level id): [node+1 u32][level u32][child u32], linear probing, at most
//              half full, backward-shift deletion (no tombstones)
//   lists      subscriber list: [len u32][cap u32][id u32 x cap], ids ascending, 0 = empty
//   cache      per channel id: the generation it was computed at and a result block
//              [cap u32][count u32][id u32 x cap]; a router's generation moves on every
//              subscribe/unsubscribe that changes something, which makes all its results stale.
//              A stale block is rewritten in place (or reallocated if it is too small) the next
//              time that channel is matched, so blocks are bounded by distinct channels matched.
//
// Channel names are interned once (intern.ts). The level ids of each interned channel are kept in
// a global table so that matching a known channel never looks at its bytes again:
//   channel levels  chanInfo[channelId] = 1 + offset into levelArena, 0 = not split yet,
//                   INVALID = not a valid channel name; levelArena[offset] = [n u32][level id u32 x n]
import { isLevelByte } from "./names";
import { HandleTable } from "./handles";
import { internAdd, internCount, internFind, internedLen, internedPtr } from "./intern";
import { ERR_NAME, ERR_NOT_FOUND } from "./errors";

// @ts-ignore: decorator
@inline const NODE: usize = 24;
// @ts-ignore: decorator
@inline const EDGE: usize = 12;
// @ts-ignore: decorator
@inline const MAX_NAME: i32 = 255;
// @ts-ignore: decorator
@inline const MAX_LEVELS: i32 = 128; // 255 bytes hold at most 128 one-byte levels
// @ts-ignore: decorator
@inline const INVALID: u32 = 0xffffffff;

// @ts-ignore: decorator
@inline const KIND_LITERAL: i32 = 0;
// @ts-ignore: decorator
@inline const KIND_PLUS: i32 = 1;
// @ts-ignore: decorator
@inline const KIND_REST: i32 = 2;

@unmanaged class RouterState {
  nodes: usize;
  nodeCap: i32;
  nodeHigh: i32;
  nodeFree: i32;
  edges: usize;
  edgeCap: i32;
  edgeCount: i32;
  cacheGen: usize;
  cachePtr: usize;
  cacheCap: i32;
  gen: u32;
  subscriptions: i32;
}

// ---- name validation ----

// Levels of the last validated name: start offset, length and kind, MAX_LEVELS each.
const levelStart: usize = heap.alloc(<usize>MAX_LEVELS << 2);
const levelLen: usize = heap.alloc(<usize>MAX_LEVELS << 2);
const levelKind: usize = heap.alloc(<usize>MAX_LEVELS << 2);

/**
 * Checks a channel name (`pattern` false) or a pattern against the naming rule and splits it into
 * levelStart/levelLen/levelKind. Returns the number of levels, or -1 if the name is invalid.
 */
function splitName(ptr: usize, len: i32, pattern: bool): i32 {
  if (len < 1 || len > MAX_NAME) return -1;
  let n = 0;
  let start = 0;
  let wild = 0; // the wildcard byte seen in this level, 0 if none
  for (let i = 0; i <= len; i++) {
    const c: u32 = i < len ? <u32>load<u8>(ptr + <usize>i) : 0x2f;
    if (c == 0x2f) {
      const l = i - start;
      if (l == 0) return -1;
      let kind = KIND_LITERAL;
      if (wild) {
        if (l != 1) return -1;
        if (wild == 0x23) {
          if (i != len) return -1; // "#" only as the last level
          kind = KIND_REST;
        } else {
          kind = KIND_PLUS;
        }
      }
      store<i32>(levelStart + (<usize>n << 2), start);
      store<i32>(levelLen + (<usize>n << 2), l);
      store<i32>(levelKind + (<usize>n << 2), kind);
      n++;
      start = i + 1;
      wild = 0;
    } else if (!isLevelByte(c)) {
      if (pattern && (c == 0x2b || c == 0x23)) wild = c;
      else return -1;
    }
  }
  return n;
}

// ---- channel levels (global: interning is global) ----

let chanInfo: usize = 0;
let chanInfoCap: i32 = 0;
let levelArena: usize = heap.alloc(4096);
let levelArenaCap: i32 = 1024; // in u32 words
let levelArenaLen: i32 = 0;

function ensureChanInfo(): void {
  const need = internCount();
  if (need <= chanInfoCap) return;
  let cap = chanInfoCap ? chanInfoCap : 1024;
  while (cap < need) cap <<= 1;
  chanInfo = chanInfo ? heap.realloc(chanInfo, <usize>cap << 2) : heap.alloc(<usize>cap << 2);
  memory.fill(chanInfo + (<usize>chanInfoCap << 2), 0, <usize>(cap - chanInfoCap) << 2);
  chanInfoCap = cap;
}

/**
 * Address of [n u32][level id u32 x n] for an interned channel, splitting and interning its levels
 * the first time; 0 if its bytes are not a valid channel name.
 */
function channelLevels(id: i32): usize {
  if (id < chanInfoCap) {
    const info = load<u32>(chanInfo + (<usize>id << 2));
    if (info == INVALID) return 0;
    if (info != 0) return levelArena + (<usize>(info - 1) << 2);
  }
  const ptr = internedPtr(id);
  const n = splitName(ptr, internedLen(id), false);
  if (n < 0) {
    ensureChanInfo();
    store<u32>(chanInfo + (<usize>id << 2), INVALID);
    return 0;
  }
  if (levelArenaLen + n + 1 > levelArenaCap) {
    let cap = levelArenaCap;
    while (levelArenaLen + n + 1 > cap) cap <<= 1;
    levelArena = heap.realloc(levelArena, <usize>cap << 2);
    levelArenaCap = cap;
  }
  const off = levelArenaLen;
  const at = levelArena + (<usize>off << 2);
  store<u32>(at, n);
  for (let i = 0; i < n; i++) {
    const s = load<i32>(levelStart + (<usize>i << 2));
    const l = load<i32>(levelLen + (<usize>i << 2));
    // A one-level channel is its own level: no second lookup.
    const lid = n == 1 ? id : internAdd(ptr + <usize>s, l);
    store<u32>(at + (<usize>(i + 1) << 2), lid);
  }
  levelArenaLen = off + n + 1;
  ensureChanInfo(); // after the level ids: interning them may have grown the id space
  store<u32>(chanInfo + (<usize>id << 2), <u32>off + 1);
  return at;
}

// ---- router handles ----


const routers = new HandleTable();

// @ts-ignore: decorator
@inline function getRouter(handle: i32): RouterState | null {
  return changetype<RouterState | null>(routers.get(handle));
}

// ---- nodes ----

// @ts-ignore: decorator
@inline function nodeAt(r: RouterState, node: i32): usize {
  return r.nodes + <usize>node * NODE;
}

function nodeNew(r: RouterState, parent: i32, label: i32): i32 {
  let node = r.nodeFree;
  if (node != 0) {
    r.nodeFree = load<i32>(nodeAt(r, node), 4);
  } else {
    if (r.nodeHigh == r.nodeCap) {
      r.nodeCap <<= 1;
      r.nodes = heap.realloc(r.nodes, <usize>r.nodeCap * NODE);
    }
    node = r.nodeHigh++;
  }
  const p = nodeAt(r, node);
  memory.fill(p, 0, NODE);
  store<i32>(p, parent, 4);
  store<i32>(p, label, 8);
  return node;
}

// ---- edges: (node, level id) -> child ----

// @ts-ignore: decorator
@inline function edgeHash(node: i32, label: i32): u32 {
  let h = <u32>node * 0x9e3779b1 ^ <u32>label * 0x85ebca77;
  h ^= h >> 15;
  h *= 0x2c1b3c6d;
  h ^= h >> 12;
  return h;
}

// @ts-ignore: decorator
@inline function edgeGet(r: RouterState, node: i32, label: i32): i32 {
  const mask = r.edgeCap - 1;
  let i = <i32>edgeHash(node, label) & mask;
  const key = <u32>node + 1;
  while (true) {
    const e = r.edges + <usize>i * EDGE;
    const k = load<u32>(e);
    if (k == 0) return 0;
    if (k == key && load<i32>(e, 4) == label) return load<i32>(e, 8);
    i = (i + 1) & mask;
  }
  return 0;
}

function edgeInsert(edges: usize, cap: i32, node: i32, label: i32, child: i32): void {
  const mask = cap - 1;
  let i = <i32>edgeHash(node, label) & mask;
  while (load<u32>(edges + <usize>i * EDGE) != 0) i = (i + 1) & mask;
  const e = edges + <usize>i * EDGE;
  store<u32>(e, <u32>node + 1);
  store<i32>(e, label, 4);
  store<i32>(e, child, 8);
}

function edgePut(r: RouterState, node: i32, label: i32, child: i32): void {
  if ((r.edgeCount + 1) * 2 > r.edgeCap) {
    const oldEdges = r.edges;
    const oldCap = r.edgeCap;
    const cap = oldCap << 1;
    const edges = heap.alloc(<usize>cap * EDGE);
    memory.fill(edges, 0, <usize>cap * EDGE);
    for (let i = 0; i < oldCap; i++) {
      const e = oldEdges + <usize>i * EDGE;
      const k = load<u32>(e);
      if (k != 0) edgeInsert(edges, cap, <i32>k - 1, load<i32>(e, 4), load<i32>(e, 8));
    }
    heap.free(oldEdges);
    r.edges = edges;
    r.edgeCap = cap;
  }
  edgeInsert(r.edges, r.edgeCap, node, label, child);
  r.edgeCount++;
}

function edgeDelete(r: RouterState, node: i32, label: i32): void {
  const mask = r.edgeCap - 1;
  let i = <i32>edgeHash(node, label) & mask;
  const key = <u32>node + 1;
  while (true) {
    const e = r.edges + <usize>i * EDGE;
    const k = load<u32>(e);
    if (k == 0) return;
    if (k == key && load<i32>(e, 4) == label) break;
    i = (i + 1) & mask;
  }
  // Backward shift: pull later entries of the probe run into the hole unless their home slot
  // lies cyclically in (hole, entry].
  let j = i;
  while (true) {
    j = (j + 1) & mask;
    const e = r.edges + <usize>j * EDGE;
    const k = load<u32>(e);
    if (k == 0) break;
    const home = <i32>edgeHash(<i32>k - 1, load<i32>(e, 4)) & mask;
    const stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
    if (stays) continue;
    memory.copy(r.edges + <usize>i * EDGE, e, EDGE);
    i = j;
  }
  store<u32>(r.edges + <usize>i * EDGE, 0);
  r.edgeCount--;
}

// ---- subscriber lists: [len u32][cap u32][id u32 x cap], ascending ----

/** Index of `id` in the list, or -(insertion point) - 1. */
function listSearch(list: usize, id: u32): i32 {
  let lo = 0;
  let hi = <i32>load<u32>(list) - 1;
  const ids = list + 8;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = load<u32>(ids + (<usize>mid << 2));
    if (v < id) lo = mid + 1;
    else if (v > id) hi = mid - 1;
    else return mid;
  }
  return -lo - 1;
}

/** Adds `id` to the list at `slot` (an address holding the list pointer); false if present. */
function listAdd(slot: usize, id: u32): bool {
  let list = load<usize>(slot);
  if (list == 0) {
    list = heap.alloc(8 + (4 << 2));
    store<u32>(list, 1);
    store<u32>(list, 4, 4);
    store<u32>(list, id, 8);
    store<usize>(slot, list);
    return true;
  }
  const at = listSearch(list, id);
  if (at >= 0) return false;
  const pos = -at - 1;
  const len = load<u32>(list);
  const cap = load<u32>(list, 4);
  if (len == cap) {
    list = heap.realloc(list, 8 + (<usize>cap << 3));
    store<u32>(list, cap << 1, 4);
    store<usize>(slot, list);
  }
  const p = list + 8 + (<usize>pos << 2);
  memory.copy(p + 4, p, <usize>(len - <u32>pos) << 2);
  store<u32>(p, id);
  store<u32>(list, len + 1);
  return true;
}

/** Removes `id` from the list at `slot`, freeing the list when it empties; false if absent. */
function listRemove(slot: usize, id: u32): bool {
  const list = load<usize>(slot);
  if (list == 0) return false;
  const pos = listSearch(list, id);
  if (pos < 0) return false;
  const len = load<u32>(list) - 1;
  if (len == 0) {
    heap.free(list);
    store<usize>(slot, 0);
    return true;
  }
  const p = list + 8 + (<usize>pos << 2);
  memory.copy(p, p + 4, <usize>(len - <u32>pos) << 2);
  store<u32>(list, len);
  return true;
}

// ---- exported to the ABI ----

/** Creates a router; returns its handle (> 0). */
export function routerCreate(): i32 {
  const r = changetype<RouterState>(heap.alloc(offsetof<RouterState>()));
  r.nodeCap = 64;
  r.nodes = heap.alloc(<usize>r.nodeCap * NODE);
  r.nodeHigh = 1;
  r.nodeFree = 0;
  memory.fill(r.nodes, 0, NODE); // root
  store<i32>(r.nodes, -1, 8);
  r.edgeCap = 64;
  r.edges = heap.alloc(<usize>r.edgeCap * EDGE);
  memory.fill(r.edges, 0, <usize>r.edgeCap * EDGE);
  r.edgeCount = 0;
  r.cacheCap = 0;
  r.cacheGen = 0;
  r.cachePtr = 0;
  r.gen = 1;
  r.subscriptions = 0;

  return routers.claim(changetype<usize>(r));
}

/** Frees a router and everything it holds; its handle may be handed out again. */
export function routerDispose(handle: i32): i32 {
  const r = getRouter(handle);
  if (!r) return ERR_NOT_FOUND;
  for (let n = 0; n < r.nodeHigh; n++) {
    const p = nodeAt(r, n);
    const exact = load<usize>(p, 16);
    const rest = load<usize>(p, 20);
    if (exact) heap.free(exact);
    if (rest) heap.free(rest);
  }
  heap.free(r.nodes);
  heap.free(r.edges);
  if (r.cacheCap) {
    for (let i = 0; i < r.cacheCap; i++) {
      const block = load<usize>(r.cachePtr + (<usize>i << 2));
      if (block) heap.free(block);
    }
    heap.free(r.cacheGen);
    heap.free(r.cachePtr);
  }
  heap.free(changetype<usize>(r));
  routers.release(handle);
  return 0;
}

/** Number of (pattern, subscriber) pairs held, or -ERR_NOT_FOUND. */
export function routerSubscriptionCount(handle: i32): i32 {
  const r = getRouter(handle);
  if (!r) return -ERR_NOT_FOUND;
  return r.subscriptions;
}

/** Makes every cached result of the router stale. */
function invalidate(r: RouterState): void {
  r.gen++;
  if (r.gen == 0) {
    // 2^32 changes: clear the stamps so no old result can look current again.
    if (r.cacheCap) memory.fill(r.cacheGen, 0, <usize>r.cacheCap << 2);
    r.gen = 1;
  }
}

/**
 * Subscribes `id` to the pattern in `ptr/len` (UTF-8). Returns 1 if added, 0 if it was already
 * there (nothing changes), or -status (-ERR_NAME, -ERR_NOT_FOUND).
 */
export function routerSubscribe(handle: i32, ptr: usize, len: i32, id: u32): i32 {
  const r = getRouter(handle);
  if (!r) return -ERR_NOT_FOUND;
  const n = splitName(ptr, len, true);
  if (n < 0) return -ERR_NAME;
  let node = 0;
  let slotOffset: usize = 16; // exact list
  for (let i = 0; i < n; i++) {
    const kind = load<i32>(levelKind + (<usize>i << 2));
    if (kind == KIND_REST) {
      slotOffset = 20;
      break;
    }
    if (kind == KIND_PLUS) {
      let child = load<i32>(nodeAt(r, node));
      if (child == 0) {
        child = nodeNew(r, node, -1);
        store<i32>(nodeAt(r, node), child);
      }
      node = child;
    } else {
      const label = internAdd(ptr + <usize>load<i32>(levelStart + (<usize>i << 2)), load<i32>(levelLen + (<usize>i << 2)));
      let child = edgeGet(r, node, label);
      if (child == 0) {
        child = nodeNew(r, node, label);
        edgePut(r, node, label, child);
        const p = nodeAt(r, node);
        store<i32>(p, load<i32>(p, 12) + 1, 12);
      }
      node = child;
    }
  }
  if (!listAdd(nodeAt(r, node) + slotOffset, id)) return 0;
  r.subscriptions++;
  invalidate(r);
  return 1;
}

/**
 * Removes `id` from the pattern in `ptr/len`. Returns 1 if it was subscribed, 0 if not, or
 * -status (-ERR_NAME, -ERR_NOT_FOUND). Nodes left with no subscribers and no children are freed.
 */
export function routerUnsubscribe(handle: i32, ptr: usize, len: i32, id: u32): i32 {
  const r = getRouter(handle);
  if (!r) return -ERR_NOT_FOUND;
  const n = splitName(ptr, len, true);
  if (n < 0) return -ERR_NAME;
  let node = 0;
  let slotOffset: usize = 16;
  for (let i = 0; i < n; i++) {
    const kind = load<i32>(levelKind + (<usize>i << 2));
    if (kind == KIND_REST) {
      slotOffset = 20;
      break;
    }
    if (kind == KIND_PLUS) {
      node = load<i32>(nodeAt(r, node));
    } else {
      const label = internFind(ptr + <usize>load<i32>(levelStart + (<usize>i << 2)), load<i32>(levelLen + (<usize>i << 2)));
      if (label < 0) return 0;
      node = edgeGet(r, node, label);
    }
    if (node == 0) return 0;
  }
  if (!listRemove(nodeAt(r, node) + slotOffset, id)) return 0;
  r.subscriptions--;
  invalidate(r);
  // Prune the now-useless tail of the path so churn of distinct patterns keeps memory flat.
  while (node != 0) {
    const p = nodeAt(r, node);
    if (load<i32>(p) != 0 || load<i32>(p, 12) != 0 || load<usize>(p, 16) != 0 || load<usize>(p, 20) != 0) break;
    const parent = load<i32>(p, 4);
    const label = load<i32>(p, 8);
    const pp = nodeAt(r, parent);
    if (label == -1) {
      store<i32>(pp, 0);
    } else {
      edgeDelete(r, parent, label);
      store<i32>(pp, load<i32>(pp, 12) - 1, 12);
    }
    store<i32>(p, r.nodeFree, 4);
    r.nodeFree = node;
    node = parent;
  }
  return 1;
}

/**
 * Hot path, step 1: validates and interns a channel name (`ptr/len`, UTF-8) and splits it into
 * interned level ids, once. Returns the channel id (>= 0), or -ERR_NAME / -ERR_NOT_FOUND. The id
 * is global to the instance (interning is shared), so it may be passed to any router's
 * routerMatchId and kept forever.
 */
export function routerInternChannel(handle: i32, ptr: usize, len: i32): i32 {
  if (!getRouter(handle)) return -ERR_NOT_FOUND;
  if (splitName(ptr, len, false) < 0) return -ERR_NAME;
  const id = internAdd(ptr, len);
  channelLevels(id);
  return id;
}

// ---- matching ----

// Scratch for one match: the subscriber lists met (addresses) and their merged ids.
let scratchLists: usize = heap.alloc(256 << 2);
let scratchListsCap: i32 = 256;
let scratchListsLen: i32 = 0;
let scratchTotal: i32 = 0;
let scratchIds: usize = heap.alloc(1024 << 2); // merge ping-pong buffers, scratchIdsCap ids each
let scratchIds2: usize = heap.alloc(1024 << 2);
let scratchIdsCap: i32 = 1024;

function pushList(list: usize): void {
  if (scratchListsLen == scratchListsCap) {
    scratchListsCap <<= 1;
    scratchLists = heap.realloc(scratchLists, <usize>scratchListsCap << 2);
  }
  store<usize>(scratchLists + (<usize>(scratchListsLen++) << 2), list);
  scratchTotal += <i32>load<u32>(list);
}

/** Walks the trie for levels[d..n): every node reached contributes its "#" list, the last its exact list. */
function collect(r: RouterState, node: i32, levels: usize, d: i32, n: i32): void {
  while (true) {
    const p = nodeAt(r, node);
    const rest = load<usize>(p, 20);
    if (rest) pushList(rest);
    if (d == n) {
      const exact = load<usize>(p, 16);
      if (exact) pushList(exact);
      return;
    }
    const plus = load<i32>(p);
    const child = load<i32>(p, 12) ? edgeGet(r, node, load<i32>(levels + (<usize>d << 2))) : 0;
    d++;
    if (plus != 0) {
      if (child != 0) collect(r, child, levels, d, n);
      node = plus;
    } else if (child != 0) {
      node = child;
    } else {
      return;
    }
  }
}

/** Merges two ascending unique id runs into `out`, dropping duplicates; returns the count. */
function mergeUnique(a: usize, na: i32, b: usize, nb: i32, out: usize): i32 {
  let i = 0;
  let j = 0;
  let w = 0;
  while (i < na && j < nb) {
    const x = load<u32>(a + (<usize>i << 2));
    const y = load<u32>(b + (<usize>j << 2));
    let v: u32;
    if (x < y) {
      v = x;
      i++;
    } else if (y < x) {
      v = y;
      j++;
    } else {
      v = x;
      i++;
      j++;
    }
    store<u32>(out + (<usize>w << 2), v);
    w++;
  }
  if (i < na) {
    memory.copy(out + (<usize>w << 2), a + (<usize>i << 2), <usize>(na - i) << 2);
    w += na - i;
  }
  if (j < nb) {
    memory.copy(out + (<usize>w << 2), b + (<usize>j << 2), <usize>(nb - j) << 2);
    w += nb - j;
  }
  return w;
}

/** Computes the match of a channel (its level ids at `levels`) into the router's cache slot. */
function compute(r: RouterState, channelId: i32, levels: usize): usize {
  scratchListsLen = 0;
  scratchTotal = 0;
  collect(r, 0, levels + 4, 0, <i32>load<u32>(levels));

  // Every list is ascending and unique, and a match meets only a few of them (one per trie node
  // reached), so merging them pairwise beats sorting the concatenation.
  let src: usize;
  let count = scratchTotal;
  if (scratchListsLen == 0) {
    src = scratchIds;
  } else if (scratchListsLen == 1) {
    src = load<usize>(scratchLists) + 8;
  } else {
    if (count > scratchIdsCap) {
      let cap = scratchIdsCap;
      while (cap < count) cap <<= 1;
      heap.free(scratchIds);
      heap.free(scratchIds2);
      scratchIds = heap.alloc(<usize>cap << 2);
      scratchIds2 = heap.alloc(<usize>cap << 2);
      scratchIdsCap = cap;
    }
    const first = load<usize>(scratchLists);
    const second = load<usize>(scratchLists + 4);
    let acc = scratchIds;
    let spare = scratchIds2;
    count = mergeUnique(first + 8, <i32>load<u32>(first), second + 8, <i32>load<u32>(second), acc);
    for (let i = 2; i < scratchListsLen; i++) {
      const list = load<usize>(scratchLists + (<usize>i << 2));
      count = mergeUnique(acc, count, list + 8, <i32>load<u32>(list), spare);
      const t = acc;
      acc = spare;
      spare = t;
    }
    src = acc;
  }

  // Per-channel cache slot, grown to cover the id space.
  if (channelId >= r.cacheCap) {
    let cap = r.cacheCap ? r.cacheCap : 1024;
    while (cap <= channelId) cap <<= 1;
    // (heap.realloc needs a live block: the first time, allocate)
    r.cacheGen = r.cacheCap ? heap.realloc(r.cacheGen, <usize>cap << 2) : heap.alloc(<usize>cap << 2);
    r.cachePtr = r.cacheCap ? heap.realloc(r.cachePtr, <usize>cap << 2) : heap.alloc(<usize>cap << 2);
    memory.fill(r.cacheGen + (<usize>r.cacheCap << 2), 0, <usize>(cap - r.cacheCap) << 2);
    memory.fill(r.cachePtr + (<usize>r.cacheCap << 2), 0, <usize>(cap - r.cacheCap) << 2);
    r.cacheCap = cap;
  }
  const cslot = r.cachePtr + (<usize>channelId << 2);
  let block = load<usize>(cslot);
  if (block == 0 || <i32>load<u32>(block) < count) {
    if (block) heap.free(block);
    const cap = count < 4 ? 4 : count;
    block = heap.alloc(8 + (<usize>cap << 2));
    store<u32>(block, cap);
    store<usize>(cslot, block);
  }
  store<u32>(block, count, 4);
  memory.copy(block + 8, src, <usize>count << 2);
  store<u32>(r.cacheGen + (<usize>channelId << 2), r.gen);
  return block + 4;
}

/**
 * Hot path, step 2: the subscribers of an interned channel (from routerInternChannel). Returns the
 * address of the result list [count u32][id u32 x count], ids ascending and unique, computed on
 * first use and cached per channel; it stays valid (and unchanged) until the router's next
 * subscribe/unsubscribe that changes something, or its disposal. Returns 0 for an unknown router
 * or an id that is not an interned valid channel name.
 */
export function routerMatchId(handle: i32, channelId: i32): usize {
  const r = getRouter(handle);
  if (!r) return 0;
  if (<u32>channelId < <u32>r.cacheCap && load<u32>(r.cacheGen + (<usize>channelId << 2)) == r.gen) {
    return load<usize>(r.cachePtr + (<usize>channelId << 2)) + 4;
  }
  if (<u32>channelId >= <u32>internCount()) return 0;
  const levels = channelLevels(channelId);
  if (levels == 0) return 0;
  return compute(r, channelId, levels);
}
