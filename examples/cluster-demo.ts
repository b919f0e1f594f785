// `tagwire start --cluster`: the demo on three hubs in cluster mode (docs/CLUSTER.md). Hub A runs
// the simulated climate chamber (examples/demo.ts); hubs B and C serve the viewer too. All three
// keep their channels in NATS JetStream (default the local server at nats://127.0.0.1:4222), so
// the chamber's writes through hub A appear live in the viewer on hub C, and a click in the
// viewer on hub C reaches the device on hub A.
import { createViewerHandler, defaultViewerDir } from "../viewer/serve.js";
import { startHub, type RunningHub } from "../hub/index.js";
import { startDemo, type DemoOptions, type RunningDemo } from "./demo.js";

export interface ClusterDemoOptions extends DemoOptions {
  /** NATS URLs (default nats://127.0.0.1:4222). */
  natsServers?: string[];
  /** Namespace in NATS (default "tagwire-demo"). */
  clusterName?: string;
}

/** The demo of hub A (device, viewer), plus hubs B and C; `close` stops all three. */
export interface RunningClusterDemo extends RunningDemo {
  readonly others: RunningHub[];
}

export async function startClusterDemo(options: ClusterDemoOptions = {}): Promise<RunningClusterDemo> {
  const log = options.log ?? ((line: string) => console.log(`[tagwire start --cluster] ${line}`));
  const nats = { servers: options.natsServers ?? ["nats://127.0.0.1:4222"], name: options.clusterName ?? "tagwire-demo" };
  const port = options.port ?? 8080;
  const demo = await startDemo({ ...options, log: (l) => log(`hub A: ${l}`), nats });
  const others: RunningHub[] = [];
  try {
    for (const [i, label] of [
      [1, "B"],
      [2, "C"],
    ] as const) {
      const hub = await startHub({
        port: port === 0 ? 0 : port + i,
        host: options.host ?? "127.0.0.1",
        dataDir: options.dataDir ?? "./data",
        auth: options.auth ?? false,
        log: (line) => log(`hub ${label}: ${line}`),
        httpFallback: createViewerHandler({ dir: options.viewerDir ?? defaultViewerDir() }),
        nats,
      });
      others.push(hub);
      log(`hub ${label} listening on ${hub.url}; viewer on this hub: http://localhost:${hub.port}/`);
    }
  } catch (err) {
    for (const h of others) await h.close();
    await demo.close();
    throw err;
  }
  log(`the device writes through hub A (${demo.hub.url}); open the viewer on hub C to watch it arrive there`);
  return {
    ...demo,
    others,
    close: async () => {
      for (const h of others) await h.close();
      await demo.close();
    },
  };
}
