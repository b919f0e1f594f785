// The hub contract (hub.contract.cases.ts) against one hub on SQLite, the default deployment.
import { afterAll, beforeAll } from "vitest";
import { startHub, type RunningHub } from "../hub/index.js";
import { hubContractCases } from "./hub.contract.cases.js";
import { tempDir } from "./hub-helpers.js";

let hub: RunningHub | undefined;
let dir: ReturnType<typeof tempDir> | undefined;
beforeAll(async () => {
  dir = tempDir();
  hub = await startHub({ auth: false, log: () => {}, dataDir: dir.dir });
});
afterAll(async () => {
  await hub?.close();
  dir?.remove();
});

hubContractCases(() => ({ urls: [hub!.url], httpUrls: [hub!.httpUrl] }));
