// A small argv parser shared by the commands: `--name value`, `--name=value`, boolean `--flag`,
// `--no-flag`, positionals. Unknown options are an error, so a typo never silently does nothing.

export interface OptionSpec {
  /** "string" takes a value; "boolean" does not (and accepts --no-<name>). */
  type: "string" | "boolean";
  description: string;
  /** Shown in --help as the value's name. */
  value?: string;
  default?: string | boolean;
}

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  options: Record<string, OptionSpec>;
  /** Extra text after the options in --help. */
  notes?: string;
}

export interface Parsed {
  options: Record<string, string | boolean | undefined>;
  positionals: string[];
  help: boolean;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export function parseArgs(spec: CommandSpec, argv: readonly string[]): Parsed {
  const options: Record<string, string | boolean | undefined> = {};
  for (const [name, o] of Object.entries(spec.options)) options[name] = o.default;
  const positionals: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === "-h" || arg === "--help") {
      help = true;
      continue;
    }
    if (!arg.startsWith("--")) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    let name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const inline = eq === -1 ? undefined : arg.slice(eq + 1);
    let negated = false;
    if (!spec.options[name] && name.startsWith("no-") && spec.options[name.slice(3)]?.type === "boolean") {
      name = name.slice(3);
      negated = true;
    }
    const o = spec.options[name];
    if (!o) throw new UsageError(`unknown option --${name} (see tagwire ${spec.name} --help)`);
    if (o.type === "boolean") {
      if (inline !== undefined) throw new UsageError(`--${name} takes no value`);
      options[name] = !negated;
    } else {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      options[name] = value;
    }
  }
  return { options, positionals, help };
}

export function formatHelp(spec: CommandSpec): string {
  const lines = [`tagwire ${spec.name}: ${spec.summary}`, "", `Usage: ${spec.usage}`, "", "Options:"];
  const rows = Object.entries(spec.options).map(([name, o]) => {
    const left = o.type === "boolean" ? `--${name}` : `--${name} <${o.value ?? "value"}>`;
    const def = o.default !== undefined && o.type === "string" ? ` (default ${o.default})` : "";
    return [left, o.description + def] as const;
  });
  rows.push(["-h, --help", "show this help"]);
  const width = Math.max(...rows.map(([l]) => l.length));
  for (const [l, r] of rows) lines.push(`  ${l.padEnd(width)}  ${r}`);
  if (spec.notes) lines.push("", spec.notes);
  return lines.join("\n");
}

/** Parses "30d", "12h", "15m", "3600s" or a number of seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(text.trim());
  if (!m) throw new UsageError(`not a duration: ${text} (use e.g. 30d, 12h, 15m, 3600s)`);
  const n = Number(m[1]);
  const unit = { "": 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as "" | "s" | "m" | "h" | "d"];
  return n * unit;
}

export interface Command {
  spec: CommandSpec;
  /** Returns the exit code, or never resolves for long-running commands (the hub). */
  run(parsed: Parsed): Promise<number>;
}
