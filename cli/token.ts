// `tagwire token create`: prints a token signed with the hub's secret.
import { createToken, loadSecret, ROLES, type Role } from "../hub/auth.js";
import { UsageError, parseDuration, type Command } from "./args.js";

export const tokenCommand: Command = {
  spec: {
    name: "token",
    summary: "create access tokens for agents and people",
    usage: "tagwire token create --agent <id> --role device|viewer|operator [--grants a,b/*] [--ttl 30d] [--data-dir ./data]",
    options: {
      agent: { type: "string", value: "id", description: "the agent (or person) the token speaks for" },
      role: {
        type: "string",
        value: "role",
        description: "device (writes its own channels), viewer (reads) or operator (reads, sends ui_cmds)",
      },
      grants: {
        type: "string",
        value: "list",
        description: "comma-separated read grants: agentA (all its channels), agentB/sensors/#, agentC/* ; + and # as in MQTT",
      },
      ttl: { type: "string", value: "duration", description: "lifetime, e.g. 30d, 12h, 3600s", default: "30d" },
      "data-dir": { type: "string", value: "dir", description: "the hub's data dir (holds the secret)", default: "./data" },
    },
    notes: "The secret is TAGWIRE_SECRET if set, else <data-dir>/secret (created if missing, shared with the hub).",
  },
  async run({ options, positionals }) {
    if (positionals[0] !== "create" || positionals.length !== 1)
      throw new UsageError("usage: tagwire token create --agent <id> --role <role>");
    const agentId = options.agent as string | undefined;
    const role = options.role as string | undefined;
    if (!agentId) throw new UsageError("--agent is required");
    if (!role || !ROLES.includes(role as Role)) throw new UsageError(`--role must be one of ${ROLES.join(", ")}`);
    const grants = options.grants
      ? String(options.grants)
          .split(",")
          .map((g) => g.trim())
          .filter(Boolean)
      : [];
    const secret = loadSecret(options["data-dir"] as string);
    const token = createToken(secret, { agentId, role: role as Role, grants, ttlSeconds: parseDuration(options.ttl as string) });
    process.stdout.write(token + "\n");
    return 0;
  },
};
