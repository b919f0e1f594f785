// The hub contract (hub.contract.cases.ts) against three hubs in cluster mode, each on its own
// node of a private 3-node JetStream cluster (R3), clients spread over the hubs.
import { afterAll, beforeAll } from "vitest";
import { startHub, type RunningHub } from "../hub/index.js";
import { hubContractCases } from "./hub.contract.cases.js";
import { tempDir } from "./hub-helpers.js";
import { startNatsCluster, type NatsCluster } from "./support/nats-cluster.js";

let cluster: NatsCluster | undefined;
const hubs: RunningHub[] = [];
const dirs: ReturnType<typeof tempDir>[] = [];
beforeAll(async () => {
  cluster = await startNatsCluster();
  for (const node of cluster.nodes) {
    const dir = tempDir();
    dirs.push(dir);
    hubs.push(
      await startHub({ auth: false, log: () => {}, dataDir: dir.dir, nats: { servers: [node.url], replicas: 3, name: "contract" } }),
    );
  }
}, 60_000);
afterAll(async () => {
  for (const h of hubs) await h.close();
  for (const d of dirs) d.remove();
  await cluster?.stop();
});

hubContractCases(() => ({ urls: hubs.map((h) => h.url), httpUrls: hubs.map((h) => h.httpUrl) }));
