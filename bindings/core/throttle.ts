// PLACEHOLDER: replaced by the throttle binding.
import type { CoreInstance } from "./instance.js";
export interface RateLimiterOptions { minIntervalMs: number }
export interface ChangeFilterOptions { threshold?: number; percent?: number }
export class RateLimiter {
  constructor(readonly instance: CoreInstance, readonly options: RateLimiterOptions) {}
}
export class ChangeFilter {
  constructor(readonly instance: CoreInstance, readonly options: ChangeFilterOptions) {}
}
