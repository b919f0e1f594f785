// The hub's Storage contract (test/support/storage-contract.ts) on JetStreamStorage, over a
// private 3-node JetStream cluster with R3: each location is its own stream (namespace), removed
// afterwards. Shared-log cases open several hubs on one stream at once.
import { afterAll, beforeAll } from "vitest";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { JetStreamStorage } from "../hub/cluster/jetstream-storage.js";
import { describeStorageContract } from "./support/storage-contract.js";
import { startNatsCluster, type NatsCluster } from "./support/nats-cluster.js";

let cluster: NatsCluster | undefined;
beforeAll(async () => {
  cluster = await startNatsCluster();
}, 30_000);
afterAll(async () => {
  await cluster?.stop();
});

let counter = 0;
describeStorageContract("jetstream (3 nodes, R3)", {
  sharedLog: true,
  expiresOnCall: true,
  create: async () => {
    const name = `sc${++counter}`;
    let opened = 0;
    return {
      // Each hub talks to its own node, as in a deployment.
      open: () => new JetStreamStorage({ servers: [cluster!.nodes[opened++ % 3]!.url], name, replicas: 3 }),
      destroy: async () => {
        const nc = await connect({ servers: cluster!.nodes[0]!.url });
        try {
          const jsm = await jetstreamManager(nc);
          await jsm.streams.delete(`TW_${name}`).catch(() => {});
        } finally {
          await nc.close();
        }
      },
    };
  },
});
