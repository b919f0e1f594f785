// `tagwire follow <agent>/<pattern>`: a live tail of channel updates, one line per update, over
// the same RemoteSession devices use (bindings/client): it reconnects by itself and, after a
// gap, prints the re-read state as `resynced` and the messages it missed.
import { connectSession } from "../bindings/client/connect.js";
import type { RemoteSession } from "../bindings/client/remote-session.js";
import { TagwireError } from "../bindings/core/errors.js";
import type { ChannelEvent } from "../bindings/sdk/session.js";
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
  parsePatternAddress,
  usage,
} from "./remote.js";

const CONNECT_TIMEOUT_MS = 5_000;

/** One line for an event: `<ISO time> <agent>/<channel> <kind> <JSON>`. */
export function formatEvent(event: ChannelEvent, options: { aggregate?: boolean } = {}): string {
  const key = `${event.agentId}/${event.channel}`;
  switch (event.type) {
    case "message":
      return `${new Date(event.message.ts).toISOString()} ${key} message ${JSON.stringify(event.message.data)}`;
    case "aggregate":
      return `${new Date().toISOString()} ${key} v${event.version} ${JSON.stringify(options.aggregate ? event.aggregate : event.diff)}`;
    default:
      return `${new Date().toISOString()} ${key} ${event.type} v${event.version} ${JSON.stringify(event.aggregate)}`;
  }
}

/** The event as one JSON object (for --json). */
export function eventJson(event: ChannelEvent, options: { aggregate?: boolean } = {}): string {
  const base = { agentId: event.agentId, channel: event.channel, type: event.type };
  switch (event.type) {
    case "message":
      return JSON.stringify({ ...base, ts: event.message.ts, id: event.message.id, data: event.message.data });
    case "aggregate":
      return JSON.stringify({
        ...base,
        ts: Date.now(),
        version: event.version,
        ...(options.aggregate ? { aggregate: event.aggregate } : { diff: event.diff }),
      });
    default:
      return JSON.stringify({ ...base, ts: Date.now(), version: event.version, aggregate: event.aggregate });
  }
}

export const followCommand: Command = {
  spec: {
    name: "follow",
    summary: "print channel updates live, one line each (Ctrl-C to stop)",
    usage: "tagwire follow <agent>/<pattern> [--no-sync] [--aggregate] [--json] [--count n] [--url ...] [--token ...]",
    options: {
      ...REMOTE_OPTIONS,
      sync: {
        type: "boolean",
        description: "first print the current state of each matching channel (default; --no-sync skips it)",
        default: true,
      },
      aggregate: { type: "boolean", description: "print the whole aggregate after each change instead of the diff" },
      json: { type: "boolean", description: "one JSON object per line" },
      count: { type: "string", value: "n", description: "exit after n updates (state lines not counted)" },
    },
    notes: [
      "Patterns: + matches one level, # the rest. Examples:",
      "  tagwire follow climate-chamber/#        everything of one agent",
      "  tagwire follow +/tag_values             the tags of every agent",
      "  tagwire follow pump-1/sensors/+/temp",
      "Lines: <ISO time> <agent>/<channel> v<version> <diff JSON>, or ... message <JSON> for logged",
      "messages, and `sync` / `resynced` lines with the whole aggregate.",
      "",
      EXIT_CODES_HELP,
    ].join("\n"),
  },
  run: ({ options, positionals }) =>
    guarded("follow", async () => {
      if (positionals.length !== 1) throw usage("usage: tagwire follow <agent>/<pattern>");
      const { agentId, pattern } = parsePatternAddress(positionals[0]);
      let count = Infinity;
      if (options.count !== undefined) {
        count = Number(options.count);
        if (!Number.isInteger(count) || count < 1) throw usage("--count must be a positive integer");
      }
      const target = hubTarget(options);
      let failure: ((error: Error) => void) | undefined;
      let session: RemoteSession;
      try {
        session = await connectSession(target.wsUrl, {
          agentId: cliAgentId(target),
          ...(target.token ? { token: target.token } : {}),
          connectTimeoutMs: CONNECT_TIMEOUT_MS,
          backoff: { initialMs: 250, maxMs: 5_000 },
          onError: (error, context) => {
            if (!(error instanceof TagwireError && error.code === "TAGWIRE_ERR_AUTH"))
              console.error(`tagwire follow: ${context}: ${(error as Error).message ?? error}`);
          },
        });
      } catch (error) {
        if (error instanceof TagwireError && error.code === "TAGWIRE_ERR_TIMEOUT") {
          throw new CliError(
            EXIT.unreachable,
            `cannot reach the hub at ${target.wsUrl} (no connection in ${CONNECT_TIMEOUT_MS / 1000} s). Is it running?`,
          );
        }
        if (error instanceof TagwireError) throw hubError(error.code, error.message, target);
        throw error;
      }
      const json = options.json === true;
      const whole = options.aggregate === true;
      let printed = 0;
      return await new Promise<number>((resolve, reject) => {
        const stop = (code: number | Error) => {
          process.off("SIGINT", onSignal);
          process.off("SIGTERM", onSignal);
          void session.close(0).then(() => (typeof code === "number" ? resolve(code) : reject(code)));
        };
        const onSignal = () => stop(EXIT.ok);
        failure = (error) => stop(error);
        process.once("SIGINT", onSignal);
        process.once("SIGTERM", onSignal);
        session.onState((state, detail) => {
          if (state === "offline") {
            if (detail instanceof TagwireError && (detail.code === "TAGWIRE_ERR_AUTH" || detail.code === "TAGWIRE_ERR_FORBIDDEN")) {
              stop(hubError(detail.code, detail.message, target));
            } else console.error("tagwire follow: connection lost, reconnecting…");
          } else if (state === "online") console.error("tagwire follow: connected");
        });
        session.onEvent((event) => failure?.(hubError(event.error.code, event.error.message, target)));
        console.error(`tagwire follow: following ${agentId}/${pattern} on ${target.wsUrl} (Ctrl-C to stop)`);
        session.subscribe(agentId, pattern, (event) => {
          if (event.type === "sync" && options.sync === false) return;
          process.stdout.write((json ? eventJson(event, { aggregate: whole }) : formatEvent(event, { aggregate: whole })) + "\n");
          if (event.type === "sync" || event.type === "resynced") return;
          if (++printed >= count) stop(EXIT.ok);
        });
      });
    }),
};
