// PLACEHOLDER: replaced by the channel-store binding.
import type { CoreInstance } from "./instance.js";
export interface ChannelStoreOptions { maxPayloadBytes?: number; maxDepth?: number }
export class ChannelStore {
  constructor(readonly instance: CoreInstance, readonly options?: ChannelStoreOptions) {}
}
