import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests share real brokers and ports; files run in parallel but on 2 cores
    // more workers only add contention.
    maxWorkers: 2,
  },
});
