// One core instance per process for the SDK's small helpers (rolling statistics, throttles), loaded
// on first use. Buses create their own cores, so a helper never shares memory with channel data.
import { createCore, type Core } from "../core/index.js";

let loaded: Core | undefined;
let loading: Promise<Core> | undefined;

/** Loads the helpers' core (once); resolves to it. */
export function loadSharedCore(): Promise<Core> {
  loading ??= createCore().then(
    (core) => (loaded = core),
    (error) => {
      loading = undefined;
      throw error;
    },
  );
  return loading;
}

/** The helpers' core if it is loaded, else undefined. */
export function sharedCore(): Core | undefined {
  return loaded;
}
