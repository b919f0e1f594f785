// ABI of router.ts (placeholder until the module lands).
