// Seeds for the seeded random tests: every run prints its seed, and TAGWIRE_SEED replays one.
// The generators are kept exactly as the tests first used them, so a printed seed keeps
// replaying the same inputs.
import { mulberry32 } from "./mulberry32.mjs";

export { mulberry32 };

/** TAGWIRE_SEED if set, else a time-based seed; printed under `label` so a failure can be replayed. */
export function testSeed(label: string): number {
  const seed = process.env.TAGWIRE_SEED ? Number(process.env.TAGWIRE_SEED) : (Date.now() % 1_000_000) + 1;
  console.log(`${label} seed=${seed} (set TAGWIRE_SEED to replay)`);
  return seed;
}

/** A mulberry32 generator on testSeed(label). */
export const seededRandom = (label: string): (() => number) => mulberry32(testSeed(label));

/** xorshift32 generator of floats in [0, 1); seed 0 (a fixed point of xorshift) is taken as 1. */
export function xorshift32(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}
