// `tagwire publish <agent>/<channel> <json>`: merges a diff into the aggregate (HTTP PATCH), or
// replaces it (PUT), or only appends a message (POST .../messages).
import type { Command } from "./args.js";
import {
  EXIT,
  EXIT_CODES_HELP,
  REMOTE_OPTIONS,
  channelPath,
  guarded,
  hubTarget,
  httpJson,
  jsonArgument,
  parseAddress,
  usage,
} from "./remote.js";

export const publishCommand: Command = {
  spec: {
    name: "publish",
    summary: "merge JSON into a channel's aggregate (or append a message)",
    usage: "tagwire publish <agent>/<channel> <json|-> [--log | --message | --replace] [--url ...] [--token ...]",
    options: {
      ...REMOTE_OPTIONS,
      log: { type: "boolean", description: "also append the JSON to the channel's message log" },
      message: { type: "boolean", description: "only append a message; leave the aggregate alone" },
      replace: { type: "boolean", description: "replace the whole aggregate instead of merging" },
      "message-id": { type: "string", value: "id", description: "id that makes a logged write idempotent (a replay stores nothing twice)" },
      json: { type: "boolean", description: "print the hub's JSON reply" },
    },
    notes: [
      "Merging: objects merge, scalars and arrays replace, null deletes a key.",
      `Example: tagwire publish pump-1/ui_cmds '{"pump": {"setpoint": 30}}'`,
      "Pass - as the JSON to read it from stdin.",
      "",
      EXIT_CODES_HELP,
    ].join("\n"),
  },
  run: ({ options, positionals }) =>
    guarded("publish", async () => {
      if (positionals.length !== 2) throw usage("usage: tagwire publish <agent>/<channel> <json>");
      const address = parseAddress(positionals[0]);
      const modes = ["log", "message", "replace"].filter((m) => options[m]);
      if (options.message && modes.length > 1) throw usage("--message cannot be combined with --log or --replace");
      const body = await jsonArgument(positionals[1], "the payload");
      if (!options.message && (body === null || typeof body !== "object" || Array.isArray(body))) {
        throw usage("an aggregate diff must be a JSON object (use --message to log any JSON)");
      }
      const target = hubTarget(options);
      const id = options["message-id"] as string | undefined;
      if (options.message) {
        const reply = await httpJson(
          target,
          "POST",
          channelPath(address, "messages") + (id ? `?messageId=${encodeURIComponent(id)}` : ""),
          body,
        );
        console.log(options.json ? JSON.stringify(reply) : `message ${reply.id} at ${new Date(reply.ts).toISOString()}`);
        return EXIT.ok;
      }
      const query = new URLSearchParams();
      if (options.log) query.set("log", "true");
      if (id) query.set("messageId", id);
      const qs = query.toString() ? `?${query}` : "";
      const reply = await httpJson(target, options.replace ? "PUT" : "PATCH", channelPath(address, "aggregate") + qs, body);
      if (options.json) console.log(JSON.stringify(reply));
      else {
        const unchanged = reply.diff && typeof reply.diff === "object" && Object.keys(reply.diff).length === 0;
        console.log(
          unchanged ? `version ${reply.version} (nothing changed)` : `version ${reply.version}, diff ${JSON.stringify(reply.diff)}`,
        );
        if (reply.message) console.log(`logged as message ${reply.message.id}`);
      }
      return EXIT.ok;
    }),
};
