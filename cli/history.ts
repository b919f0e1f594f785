// `tagwire history <agent>/<channel> --since 1h`: the channel's logged messages (HTTP API).
import type { Command } from "./args.js";
import { parseDuration, UsageError } from "./args.js";
import { EXIT, EXIT_CODES_HELP, REMOTE_OPTIONS, channelPath, guarded, hubTarget, httpJson, parseAddress, usage } from "./remote.js";

/** A point in time from "1h" / "30m" (that long ago), a number of seconds, or an ISO date. */
export function parseSince(text: string, now = Date.now()): number {
  if (/^\d{4}-\d\d-\d\d/.test(text)) {
    const t = Date.parse(text);
    if (Number.isNaN(t)) throw usage(`not a date: ${text}`);
    return t;
  }
  try {
    return now - parseDuration(text) * 1000;
  } catch (error) {
    if (error instanceof UsageError) throw usage(`${error.message}, or an ISO date`);
    throw error;
  }
}

export const historyCommand: Command = {
  spec: {
    name: "history",
    summary: "print a channel's logged messages",
    usage: "tagwire history <agent>/<channel> [--since 1h] [--until 10m] [--limit 100] [--json] [--url ...] [--token ...]",
    options: {
      ...REMOTE_OPTIONS,
      since: { type: "string", value: "when", description: "from this long ago (30s, 15m, 1h, 2d) or an ISO date", default: "1h" },
      until: { type: "string", value: "when", description: "up to this long ago or this ISO date (default now)" },
      limit: { type: "string", value: "n", description: "at most this many, the newest (1..1000)", default: "100" },
      json: { type: "boolean", description: "one JSON object per line: {id, ts, data}" },
    },
    notes: ["Lines are `<ISO time> <JSON data>`, oldest first.", "", EXIT_CODES_HELP].join("\n"),
  },
  run: ({ options, positionals }) =>
    guarded("history", async () => {
      if (positionals.length !== 1) throw usage("usage: tagwire history <agent>/<channel> --since 1h");
      const address = parseAddress(positionals[0]);
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw usage("--limit must be an integer from 1 to 1000");
      const now = Date.now();
      const after = parseSince(String(options.since), now);
      const before = options.until !== undefined ? parseSince(String(options.until), now) : undefined;
      if (before !== undefined && before <= after) throw usage("--until must be later than --since");
      // The API bounds are exclusive: after < ts < before.
      const query = new URLSearchParams({ after: String(Math.floor(after) - 1), limit: String(limit) });
      if (before !== undefined) query.set("before", String(Math.ceil(before) + 1));
      const { messages } = (await httpJson(hubTarget(options), "GET", `${channelPath(address, "messages")}?${query}`)) as {
        messages: Array<{ id: string; ts: number; data: unknown }>;
      };
      for (const m of messages) console.log(options.json ? JSON.stringify(m) : `${new Date(m.ts).toISOString()} ${JSON.stringify(m.data)}`);
      if (messages.length === 0) console.error(`no messages on ${address.agentId}/${address.channel} in that time`);
      else if (messages.length === limit)
        console.error(`(the newest ${limit} shown; older ones may exist: raise --limit, at most 1000, or narrow --since/--until)`);
      return EXIT.ok;
    }),
};
