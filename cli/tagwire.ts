#!/usr/bin/env node
// The `tagwire` command: one small module per subcommand, each with --help.
import { TagwireError } from "../bindings/core/errors.js";
import { UsageError, formatHelp, parseArgs, type Command } from "./args.js";
import { hubCommand } from "./hub.js";
import { tokenCommand } from "./token.js";
import { startCommand } from "./start.js";
import { channelsCommand } from "./channels.js";
import { getCommand } from "./get.js";
import { publishCommand } from "./publish.js";
import { followCommand } from "./follow.js";
import { historyCommand } from "./history.js";
import { benchCommand } from "./bench.js";

const COMMANDS: Command[] = [hubCommand, tokenCommand];
COMMANDS.push(startCommand, channelsCommand, getCommand, publishCommand, followCommand, historyCommand, benchCommand);

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.spec.name.length));
  return [
    "tagwire: an embeddable IoT data plane (Doover-style channels, aggregates, tags and UI)",
    "",
    "Usage: tagwire <command> [options]   (tagwire <command> --help for details)",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.spec.name.padEnd(width)}  ${c.spec.summary}`),
  ].join("\n");
}

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "-h" || name === "--help" || name === "help") {
    console.log(overview());
    return name ? 0 : 1;
  }
  const command = COMMANDS.find((c) => c.spec.name === name);
  if (!command) {
    console.error(`tagwire: unknown command ${JSON.stringify(name)}\n\n${overview()}`);
    return 1;
  }
  try {
    const parsed = parseArgs(command.spec, rest);
    if (parsed.help) {
      console.log(formatHelp(command.spec));
      return 0;
    }
    return await command.run(parsed);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`tagwire ${name}: ${err.message}`);
      return 1;
    }
    if (err instanceof TagwireError) {
      console.error(`tagwire ${name}: ${err.message} (${err.code})`);
      return 1;
    }
    throw err;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err);
    process.exitCode = 1;
  },
);
