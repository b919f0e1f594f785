// ABI of throttle.ts (placeholder until the module lands).
