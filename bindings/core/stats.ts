// PLACEHOLDER: replaced by the rolling-statistics binding.
import type { CoreInstance } from "./instance.js";
export type RollingStatsOptions = { window: number } | { windowMs: number };
export class RollingStats {
  constructor(readonly instance: CoreInstance, readonly options: RollingStatsOptions) {}
}
