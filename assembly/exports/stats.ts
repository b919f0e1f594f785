// ABI of stats.ts (placeholder until the module lands).
