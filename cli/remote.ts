// What the commands that talk to a running hub share: where the hub is (--url, TAGWIRE_URL),
// the token (--token, TAGWIRE_TOKEN), addresses (`agent/channel`), the HTTP API calls, and the
// exit codes a script can rely on:
//
//   0  done
//   1  usage: a bad argument or option (see the command's --help)
//   2  the hub is unreachable (down, wrong --url, no answer within the timeout)
//   3  authentication or permission refused (no token, a bad or expired one, a role or grant
//      that does not allow it)
//   4  the hub answered with another error: not found (no such channel or aggregate), bad
//      payload, rate limit, storage failure; or the command itself failed (port in use)
import { TagwireError } from "../bindings/core/errors.js";
import { assertAgentId, assertChannelName, assertChannelPattern } from "../bindings/sdk/names.js";
import type { OptionSpec } from "./args.js";

export const EXIT = { ok: 0, usage: 1, unreachable: 2, auth: 3, hub: 4 } as const;

export const EXIT_CODES_HELP = [
  "Exit codes: 0 ok, 1 usage, 2 hub unreachable, 3 authentication or permission refused,",
  "4 other hub error (not found, bad payload, ...).",
].join("\n");

export const DEFAULT_URL = "http://localhost:8080";

/** --url and --token, shared by every command that talks to a hub. */
export const REMOTE_OPTIONS: Record<string, OptionSpec> = {
  url: { type: "string", value: "url", description: `the hub (http(s):// or ws(s)://); default TAGWIRE_URL, else ${DEFAULT_URL}` },
  token: { type: "string", value: "token", description: "access token (`tagwire token create`); default TAGWIRE_TOKEN" },
};

/** An error that ends a command with `exitCode` and prints `message`. */
export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
    this.name = "CliError";
  }
}

export const usage = (message: string) => new CliError(EXIT.usage, message);

export interface HubTarget {
  /** http(s)://host:port, no trailing slash. */
  httpUrl: string;
  /** ws(s)://host:port/ */
  wsUrl: string;
  token: string | undefined;
}

/** The hub and token from --url/--token, else the environment, else the defaults. */
export function hubTarget(options: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv = process.env): HubTarget {
  const raw = String(options.url ?? env.TAGWIRE_URL ?? DEFAULT_URL).trim();
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`);
  } catch {
    throw usage(`--url: not a URL: ${raw}`);
  }
  const secure = url.protocol === "https:" || url.protocol === "wss:";
  if (!["http:", "https:", "ws:", "wss:"].includes(url.protocol)) throw usage(`--url: use http(s):// or ws(s)://, not ${url.protocol}`);
  const host = url.host;
  const token = (options.token as string | undefined) ?? (env.TAGWIRE_TOKEN || undefined);
  return { httpUrl: `${secure ? "https" : "http"}://${host}`, wsUrl: `${secure ? "wss" : "ws"}://${host}/`, token };
}

export interface Address {
  agentId: string;
  channel: string;
}

/** `agent/channel/name` -> { agentId, channel } (usage error when malformed). */
export function parseAddress(text: string | undefined, what = "<agent>/<channel>"): Address {
  if (!text) throw usage(`expected ${what}`);
  const slash = text.indexOf("/");
  if (slash <= 0 || slash === text.length - 1) throw usage(`expected ${what}, got ${JSON.stringify(text)}`);
  const agentId = text.slice(0, slash);
  const channel = text.slice(slash + 1);
  try {
    assertAgentId(agentId);
    assertChannelName(channel);
  } catch (error) {
    throw usage((error as Error).message);
  }
  return { agentId, channel };
}

/** `agent/pattern`, `+/pattern` or a bare `agent` (= all its channels). */
export function parsePatternAddress(text: string | undefined): { agentId: string; pattern: string } {
  if (!text) throw usage("expected <agent>/<pattern> (e.g. pump-1/#, +/tag_values)");
  const slash = text.indexOf("/");
  const agentId = slash === -1 ? text : text.slice(0, slash);
  const pattern = slash === -1 ? "#" : text.slice(slash + 1);
  try {
    assertAgentId(agentId, true);
    assertChannelPattern(pattern);
  } catch (error) {
    throw usage((error as Error).message);
  }
  return { agentId, pattern };
}

/** The agent a token speaks for (unverified; the hub checks), for the WebSocket hello. */
export function tokenAgent(token: string | undefined): string | undefined {
  if (!token) return undefined;
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1]!, "base64url").toString("utf8")) as { a?: unknown };
    return typeof claims.a === "string" ? claims.a : undefined;
  } catch {
    return undefined;
  }
}

/** The id a CLI connection says hello with: the token's agent, else a throwaway one. */
export function cliAgentId(target: HubTarget): string {
  return tokenAgent(target.token) ?? `cli-${process.pid}`;
}

const REQUEST_TIMEOUT_MS = 10_000;

function unreachable(target: HubTarget, cause: unknown): CliError {
  const c = (cause as { cause?: { code?: string; message?: string } })?.cause;
  const why =
    c?.code === "ECONNREFUSED"
      ? "connection refused"
      : c?.code === "ENOTFOUND"
        ? "unknown host"
        : (cause as Error)?.name === "TimeoutError"
          ? `no answer in ${REQUEST_TIMEOUT_MS / 1000} s`
          : (c?.message ?? (cause as Error)?.message ?? String(cause));
  return new CliError(
    EXIT.unreachable,
    `cannot reach the hub at ${target.httpUrl} (${why}). Is it running? Start one with \`tagwire hub\` or \`tagwire start\`, or point --url / TAGWIRE_URL at it.`,
  );
}

/** Maps a hub error code (HTTP body or protocol error frame) to an exit code and a message. */
export function hubError(code: string, message: string, target: HubTarget): CliError {
  if (code === "TAGWIRE_ERR_AUTH") {
    const hint = target.token
      ? "the hub refused the token"
      : "the hub requires a token: pass --token or set TAGWIRE_TOKEN (create one with `tagwire token create`)";
    return new CliError(EXIT.auth, `${hint} (${message})`);
  }
  if (code === "TAGWIRE_ERR_FORBIDDEN") return new CliError(EXIT.auth, `not allowed: ${message}`);
  return new CliError(EXIT.hub, `${message} (${code})`);
}

/** One HTTP API call; resolves to the parsed JSON body of a 2xx answer. */
export async function httpJson(target: HubTarget, method: string, path: string, body?: unknown): Promise<any> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (target.token) headers.authorization = `Bearer ${target.token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(target.httpUrl + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (error) {
    throw unreachable(target, error);
  }
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    throw new CliError(EXIT.hub, `${target.httpUrl} answered ${res.status} with something that is not JSON: is it a tagwire hub?`);
  }
  if (!res.ok) {
    const err = json?.error;
    if (err && typeof err.code === "string") throw hubError(err.code, String(err.message ?? ""), target);
    throw new CliError(EXIT.hub, `${method} ${path}: HTTP ${res.status}`);
  }
  return json;
}

/** The HTTP path of a channel resource: each level URL-encoded, the action last. */
export function channelPath(a: Address, action: "aggregate" | "messages"): string {
  return `/agents/${encodeURIComponent(a.agentId)}/channels/${a.channel.split("/").map(encodeURIComponent).join("/")}/${action}`;
}

/** Turns what a command threw into its exit code, printing the message. */
export function reportError(command: string, error: unknown): number {
  if (error instanceof CliError) {
    console.error(`tagwire ${command}: ${error.message}`);
    return error.exitCode;
  }
  if (error instanceof TagwireError) {
    const code =
      error.code === "TAGWIRE_ERR_AUTH" || error.code === "TAGWIRE_ERR_FORBIDDEN"
        ? EXIT.auth
        : error.code === "TAGWIRE_ERR_TIMEOUT" || error.code === "TAGWIRE_ERR_CLOSED"
          ? EXIT.unreachable
          : error.code === "TAGWIRE_ERR_NAME" || error.code === "TAGWIRE_ERR_ARGUMENT"
            ? EXIT.usage
            : EXIT.hub;
    console.error(`tagwire ${command}: ${error.message} (${error.code})`);
    return code;
  }
  throw error;
}

/** Runs a command body, mapping its failures to exit codes. */
export async function guarded(command: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (error) {
    return reportError(command, error);
  }
}

/** JSON from a command-line argument, or from stdin when it is "-". */
export async function jsonArgument(text: string | undefined, what: string): Promise<unknown> {
  if (text === undefined) throw usage(`expected ${what} (JSON, or - to read it from stdin)`);
  let source = text;
  if (text === "-") {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    source = Buffer.concat(chunks).toString("utf8");
  }
  try {
    return JSON.parse(source);
  } catch (error) {
    throw usage(`${what} is not JSON: ${(error as Error).message}`);
  }
}
