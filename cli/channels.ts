// `tagwire channels [agent]`: the channels of one agent (HTTP API), or of every agent the token
// may read. The protocol has no "list agents" call; for the second form the command subscribes
// to `+/#` once over WebSocket: the hub answers with one `sync` per existing channel, then the
// subscribe's ack, which marks the end of the list.
import { WebSocket } from "ws";
import { decodeFrames, encodeFrames, PROTOCOL_VERSION, type Frame } from "../bindings/protocol/index.js";
import { assertAgentId } from "../bindings/sdk/names.js";
import type { Command } from "./args.js";
import {
  CliError,
  EXIT,
  EXIT_CODES_HELP,
  REMOTE_OPTIONS,
  cliAgentId,
  guarded,
  hubError,
  hubTarget,
  httpJson,
  usage,
  type HubTarget,
} from "./remote.js";

const TIMEOUT_MS = 10_000;

/** Every readable channel with its version, by agent (sorted). */
export function listAllChannels(target: HubTarget): Promise<Map<string, Array<{ channel: string; version: number }>>> {
  const url = new URL(target.wsUrl);
  if (target.token) url.searchParams.set("token", target.token);
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const found = new Map<string, Array<{ channel: string; version: number }>>();
    let settled = false;
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ws.close();
      if (error) reject(error);
      else {
        for (const list of found.values()) list.sort((a, b) => a.channel.localeCompare(b.channel));
        resolve(new Map([...found].sort((a, b) => a[0].localeCompare(b[0]))));
      }
    };
    const timer = setTimeout(
      () => finish(new CliError(EXIT.unreachable, `no answer from ${target.wsUrl} in ${TIMEOUT_MS / 1000} s`)),
      TIMEOUT_MS,
    );
    ws.on("open", () => {
      const frames: Frame[] = [
        { type: "hello", reqId: 1, protocol: PROTOCOL_VERSION, agentId: cliAgentId(target) },
        { type: "subscribe", reqId: 2, subId: 1, agentId: "+", pattern: "#" },
      ];
      ws.send(encodeFrames(frames));
    });
    ws.on("message", (data: Buffer) => {
      let frames: Frame[];
      try {
        frames = decodeFrames(data);
      } catch (error) {
        return finish(new CliError(EXIT.hub, `unreadable answer from the hub: ${(error as Error).message}`));
      }
      for (const f of frames) {
        if (f.type === "sync") {
          let list = found.get(f.agentId);
          if (!list) found.set(f.agentId, (list = []));
          list.push({ channel: f.channel, version: f.version });
        } else if (f.type === "error") {
          const error = hubError(f.code, f.message, target);
          if (f.reqId === 2 && error.exitCode === EXIT.auth && f.code === "TAGWIRE_ERR_FORBIDDEN") {
            return finish(
              new CliError(EXIT.auth, `this token may not list every agent (${f.message}); name one: tagwire channels <agent>`),
            );
          }
          return finish(error);
        } else if (f.type === "ack" && f.reqId === 2) {
          return finish();
        }
      }
    });
    ws.on("error", (error: Error & { code?: string }) =>
      finish(
        new CliError(
          EXIT.unreachable,
          `cannot reach the hub at ${target.wsUrl} (${error.code === "ECONNREFUSED" ? "connection refused" : error.message}). Is it running?`,
        ),
      ),
    );
    ws.on("close", () => finish(new CliError(EXIT.unreachable, "the hub closed the connection")));
  });
}

export const channelsCommand: Command = {
  spec: {
    name: "channels",
    summary: "list an agent's channels, or every agent and channel you may read",
    usage: "tagwire channels [agent] [--url http://localhost:8080] [--token <token>] [--json]",
    options: {
      ...REMOTE_OPTIONS,
      json: { type: "boolean", description: "print JSON instead of text" },
    },
    notes: [
      "With an agent: its channel names, one per line. Without: each agent, then its channels and",
      "their aggregate versions (needs a token that may read everything, or no auth).",
      "",
      EXIT_CODES_HELP,
    ].join("\n"),
  },
  run: ({ options, positionals }) =>
    guarded("channels", async () => {
      if (positionals.length > 1) throw usage("usage: tagwire channels [agent]");
      const target = hubTarget(options);
      const agent = positionals[0];
      if (agent !== undefined) {
        try {
          assertAgentId(agent);
        } catch (error) {
          throw usage((error as Error).message);
        }
        const { channels } = (await httpJson(target, "GET", `/agents/${encodeURIComponent(agent)}/channels`)) as { channels: string[] };
        if (options.json) console.log(JSON.stringify(channels));
        else if (channels.length === 0) console.error(`${agent} has no channels (or none you may read)`);
        else for (const c of channels) console.log(c);
        return EXIT.ok;
      }
      const all = await listAllChannels(target);
      if (options.json) {
        console.log(JSON.stringify(Object.fromEntries([...all].map(([a, list]) => [a, list.map((c) => c.channel)]))));
        return EXIT.ok;
      }
      if (all.size === 0) console.error("no channels yet");
      for (const [a, list] of all) {
        console.log(a);
        const width = Math.max(...list.map((c) => c.channel.length));
        for (const c of list) console.log(`  ${c.channel.padEnd(width)}  ${c.version ? `v${c.version}` : "(messages only)"}`);
      }
      return EXIT.ok;
    }),
};
