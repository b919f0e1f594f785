// `tagwire get <agent>/<channel>`: prints a channel's aggregate (HTTP API).
import type { Command } from "./args.js";
import { EXIT, EXIT_CODES_HELP, REMOTE_OPTIONS, channelPath, guarded, hubTarget, httpJson, parseAddress, usage } from "./remote.js";

export const getCommand: Command = {
  spec: {
    name: "get",
    summary: "print a channel's aggregate",
    usage: "tagwire get <agent>/<channel> [--url http://localhost:8080] [--token <token>] [--compact] [--meta]",
    options: {
      ...REMOTE_OPTIONS,
      compact: { type: "boolean", description: "one line of JSON instead of indented" },
      meta: { type: "boolean", description: "print {agentId, channel, version, aggregate}" },
    },
    notes: ["Example: tagwire get climate-chamber/tag_values", "", EXIT_CODES_HELP].join("\n"),
  },
  run: ({ options, positionals }) =>
    guarded("get", async () => {
      if (positionals.length !== 1) throw usage("usage: tagwire get <agent>/<channel>");
      const address = parseAddress(positionals[0]);
      const reply = await httpJson(hubTarget(options), "GET", channelPath(address, "aggregate"));
      const value = options.meta ? reply : reply.aggregate;
      console.log(JSON.stringify(value, null, options.compact ? undefined : 2));
      return EXIT.ok;
    }),
};
