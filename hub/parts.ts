// The pieces of one hub's state, wired together by hub/state.ts and handed to the write paths
// (publish.ts, messages.ts, fast-path.ts) and retention.ts.
import type { Pipeline } from "../bindings/core/pipeline.js";
import type { Router } from "../bindings/core/router.js";
import type { ChannelStore } from "../bindings/core/store.js";
import type { HubLimits } from "./limits.js";
import type { Outlets } from "./outlets.js";
import type { ChannelRegistry } from "./registry.js";
import type { Retention } from "./retention.js";
import type { Storage } from "./storage/storage.js";
import type { Tick } from "./tick.js";

export interface HubParts {
  /** Aggregates (the core's ChannelStore). */
  readonly store: ChannelStore;
  /** Subscriptions (the core's Router). */
  readonly router: Router;
  /** Batches of publishes in one core call (fast-path.ts). */
  readonly pipeline: Pipeline;
  readonly storage: Storage;
  readonly registry: ChannelRegistry;
  readonly outlets: Outlets;
  readonly tick: Tick;
  readonly retention: Retention;
  readonly limits: HubLimits;
}
