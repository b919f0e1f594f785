// ABI of doc.ts (placeholder until the module lands).
