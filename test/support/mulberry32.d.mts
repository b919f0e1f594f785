/** A generator of floats in [0, 1), fully determined by `seed` (taken as a uint32). */
export declare function mulberry32(seed: number): () => number;
