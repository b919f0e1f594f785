// pydoover 1.x's command pattern (rpc.py, ui/manager.py) on tagwire channels. A dashboard (or
// another app) sends a command as a message on `ui_cmds`:
//   { type: "rpc", method: <interaction name>, request: <value>, status: { code: "sent" },
//     response: {}, app_key: <app> [, actor, reason, old_value, expires_after] }
// The app runs the handler registered for the method (onCommand, or the interaction's default,
// which accepts the value), then, as pydoover's on_success does, stores the value under
// `ui_cmds.<app>.<name>` and logs `{ type: "log", app_key, key, value }`. pydoover reports the
// outcome by updating the request message in place; tagwire messages are immutable, so the reply
// is a second message on the same channel: `{ type: "rpc", reply_to: <request id>,
// status: { code: "success", message: null } | { code: "error", message: { code, message } },
// response }` (docs/DOOVER-1X.md). `call()` sends a request and awaits that reply.
import { TagwireError } from "../../../core/errors.js";
import type { Agent } from "../../agent.js";
import { randomId } from "../../../protocol/ids.js";
import { isObject } from "../../json.js";
import type { Json, Message, Unsubscribe } from "../../session.js";
import type { Interaction } from "./elements.js";

export const UI_CMDS_CHANNEL = "ui_cmds";

/** What a handler learns about the command besides its value (pydoover's RPCContext). */
export interface CommandContext {
  method: string;
  message: Message;
  interaction: Interaction | undefined;
  actor: Json | undefined;
  reason: Json | undefined;
  oldValue: Json | undefined;
}

// biome-ignore lint/suspicious/noConfusingVoidType: void lets a handler that returns nothing (sync or async) type-check
export type CommandHandler<T = Json> = (value: T, ctx: CommandContext) => Json | undefined | void | Promise<Json | undefined | void>;

export interface CommandHandlerOptions<T> {
  /** Turns the raw request into what the handler takes (pydoover's `parser`); may throw. */
  coerce?: (raw: Json) => T;
  /** Store and log the (coerced) value once the handler succeeded (default true, as pydoover). */
  autoUpdate?: boolean;
}

/** An error a handler throws to answer with its own code (pydoover's RPCError). */
export class CommandError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface Registered {
  pattern: string | RegExp;
  handler: CommandHandler<unknown>;
  options: CommandHandlerOptions<unknown>;
}

export class UICommands {
  private readonly handlers: Registered[] = [];
  private readonly pending = new Map<
    string,
    { resolve: (v: Json) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }
  >();
  private interactions = new Map<string, Interaction>();
  private values: Record<string, Json> = {};
  private unsubscribe: Unsubscribe | undefined;

  constructor(
    readonly agent: Agent,
    readonly appKey: string,
  ) {}

  /** The interactions whose default handler accepts the value (from UI.interactions()). */
  setInteractions(interactions: Map<string, Interaction>): void {
    this.interactions = interactions;
  }

  /** Handles commands for `method` (an interaction name, or a RegExp over names). */
  onCommand<T = Json>(
    method: string | RegExp | Interaction,
    handler: CommandHandler<T>,
    options: CommandHandlerOptions<T> = {},
  ): Unsubscribe {
    const pattern = typeof method === "string" || method instanceof RegExp ? method : method.name;
    const entry: Registered = { pattern, handler: handler as CommandHandler<unknown>, options: options as CommandHandlerOptions<unknown> };
    this.handlers.push(entry);
    this.start();
    return () => {
      const i = this.handlers.indexOf(entry);
      if (i >= 0) this.handlers.splice(i, 1);
    };
  }

  /** The interaction's stored value, else its declared default (pydoover's get_value). */
  value(name: string): Json | undefined {
    if (Object.prototype.hasOwnProperty.call(this.values, name)) return this.values[name];
    return this.interactions.get(name)?.default;
  }

  /** Stores a value under `ui_cmds.<app>.<name>` and logs it, as pydoover's set_value. */
  async setValue(name: string, value: Json, log = true): Promise<void> {
    this.values = { ...this.values, [name]: value };
    await this.agent.publish(UI_CMDS_CHANNEL, { [this.appKey]: { [name]: value } });
    if (log) await this.agent.createMessage(UI_CMDS_CHANNEL, { type: "log", app_key: this.appKey, key: name, value });
  }

  /** Sends a command to an app (this one by default) and resolves with its handler's response. */
  async call(
    method: string,
    request: Json,
    options: { appKey?: string; timeoutMs?: number; actor?: Json; reason?: string; oldValue?: Json; expiresAfterMs?: number } = {},
  ): Promise<Json> {
    this.start();
    const data: Record<string, Json> = { type: "rpc", method, request, status: { code: "sent" }, response: {} };
    data.app_key = options.appKey ?? this.appKey;
    if (options.actor !== undefined) data.actor = options.actor;
    if (options.reason !== undefined) data.reason = options.reason;
    if (options.oldValue !== undefined) data.old_value = options.oldValue;
    if (options.expiresAfterMs !== undefined) data.expires_after = Math.trunc(options.expiresAfterMs);
    // The id is ours, so the reply is awaited before the request goes out (a handler on the
    // same bus may answer before createMessage resolves).
    const id = randomId();
    const reply = new Promise<Json>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TagwireError("TAGWIRE_ERR_TIMEOUT", `command ${method} timed out`));
      }, options.timeoutMs ?? 30_000);
      this.pending.set(id, { resolve, reject, timer });
    });
    try {
      await this.agent.createMessage(UI_CMDS_CHANNEL, data, { messageId: id });
    } catch (error) {
      const p = this.pending.get(id);
      if (p) clearTimeout(p.timer);
      this.pending.delete(id);
      throw error;
    }
    return reply;
  }

  start(): void {
    if (this.unsubscribe) return;
    this.unsubscribe = this.agent.subscribe(UI_CMDS_CHANNEL, (event) => {
      if (event.type === "sync" || event.type === "aggregate" || event.type === "resynced") {
        const own = isObject(event.aggregate) ? event.aggregate[this.appKey] : undefined;
        this.values = isObject(own) ? own : {};
      } else if (event.type === "message") {
        void this.onMessage(event.message);
      }
    });
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new TagwireError("TAGWIRE_ERR_CLOSED", "commands stopped"));
    }
    this.pending.clear();
  }

  private async onMessage(message: Message): Promise<void> {
    const data = message.data;
    if (!isObject(data) || data.type !== "rpc") return;
    if (typeof data.reply_to === "string") return this.onReply(data.reply_to, data);
    const method = data.method;
    if (typeof method !== "string" || !("request" in data)) return;
    if (data.app_key !== undefined && data.app_key !== this.appKey) return;
    if (typeof data.expires_after === "number" && Date.now() >= message.ts + data.expires_after) return;
    const found = this.handlers.find((h) => (typeof h.pattern === "string" ? h.pattern === method : h.pattern.test(method)));
    const interaction = this.interactions.get(method);
    if (!found && !interaction) return;
    const ctx: CommandContext = { method, message, interaction, actor: data.actor, reason: data.reason, oldValue: data.old_value };
    let value: unknown = data.request;
    let reply: Record<string, Json>;
    try {
      if (found?.options.coerce) value = found.options.coerce(data.request!);
      const result = found ? await found.handler(value, ctx) : undefined;
      reply = { type: "rpc", reply_to: message.id, status: { code: "success", message: null }, response: (result ?? {}) as Json };
      if (found?.options.autoUpdate !== false) await this.setValue(method, value as Json);
    } catch (error) {
      const code = error instanceof CommandError ? error.code : "INTERNAL_ERROR";
      reply = {
        type: "rpc",
        reply_to: message.id,
        status: { code: "error", message: { code, message: error instanceof Error ? error.message : String(error) } },
        response: {},
      };
    }
    await this.agent.createMessage(UI_CMDS_CHANNEL, reply);
  }

  private onReply(id: string, data: Record<string, Json>): void {
    const p = this.pending.get(id);
    if (!p) return;
    const status = isObject(data.status) ? data.status : {};
    if (status.code === "success") p.resolve(data.response ?? {});
    else if (status.code === "error") {
      const m = isObject(status.message) ? status.message : {};
      p.reject(
        new CommandError(
          typeof m.code === "string" ? m.code : "UNKNOWN",
          typeof m.message === "string" ? m.message : JSON.stringify(m.message ?? ""),
        ),
      );
    } else return;
    clearTimeout(p.timer);
    this.pending.delete(id);
  }
}

/** Handlers declared with @handler on an app, registered by attachUI (pydoover's @ui.handler). */
const declaredHandlers = new WeakMap<
  object,
  { method: string | RegExp; run: CommandHandler<unknown>; options: CommandHandlerOptions<unknown> }[]
>();

/**
 * pydoover 1.x's `@handler("name", parser=...)` as a TC39 method decorator:
 * `@ui1x.handler("setpoint", { coerce: Number }) async onSetpoint(value, ctx) {...}`. The
 * handler is registered when `attachUI(this, ...)` runs for the instance.
 */
export function handler<T = Json>(method: string | RegExp, options: CommandHandlerOptions<T> = {}) {
  return <This extends object, Fn extends (this: This, value: T, ctx: CommandContext) => unknown>(
    fn: Fn,
    context: ClassMethodDecoratorContext<This, Fn>,
  ): void => {
    context.addInitializer(function (this: This) {
      const list = declaredHandlers.get(this) ?? [];
      declaredHandlers.set(this, list);
      list.push({
        method,
        run: ((value: unknown, ctx: CommandContext) => fn.call(this, value as T, ctx)) as CommandHandler<unknown>,
        options: options as CommandHandlerOptions<unknown>,
      });
    });
  };
}

/** Registers on `commands` every @handler method declared on `owner`. */
export function registerDeclaredHandlers(owner: object, commands: UICommands): void {
  for (const h of declaredHandlers.get(owner) ?? []) commands.onCommand(h.method, h.run, h.options);
}
