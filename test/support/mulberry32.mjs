// mulberry32: a small, fast, seedable generator, good enough to drive test and bench inputs.
// Plain JavaScript so that the benches (plain Node ESM) and the tests share one definition.

/**
 * A generator of floats in [0, 1), fully determined by `seed` (taken as a uint32).
 * @param {number} seed
 * @returns {() => number}
 */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
