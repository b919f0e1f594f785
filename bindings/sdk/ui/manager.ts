// UIManager: one app's UI on its agent's `ui_state` and `ui_cmds` channels.
//
// ui_state aggregate (shared by every app of the agent, as in pydoover):
//     { state: { children: { [appKey]: <the app's uiApplication element> } } }
//   commit() publishes only the merge diff between the tree last sent and the tree now, wrapped
//   the same way, and nothing when they are equal. At start() the stored tree is the baseline, so
//   a restarted app sends nothing if its UI is unchanged, and elements it no longer has are
//   deleted (null) on its first commit.
//
// ui_cmds aggregate, namespaced per app (pydoover 1.x's UICommandsManager layout; pydoover 0.4
//   used one flat `{ cmds: { "<appKey>_<name>": value } }` map shared by all apps):
//     { [appKey]: { [commandName]: value } }
//   The site (or any client) writes a command by merging `{ [appKey]: { [name]: value } }`; an
//   action is cleared by writing null. coerce() writes the same shape and, with `log` (default),
//   appends pydoover 1.x's log message `{ type: "log", app_key, key, value }` to ui_cmds.
//
// Command semantics: a handler runs when a command's value changes to something other than null
// (an action pressed again while still set does not fire: clear it after running, with
// `ctx.clear()` or `ui.coerce(name, null)`). Commands already present when start() runs are
// replayed to the handlers registered by then, so declare elements and handlers first. Events are
// handled one at a time, in order; a handler that throws (or rejects) is reported to `onError`
// (console.error by default) and the next handler and command still run.
import { TagwireError } from "../../core/errors.js";
import type { ChannelEvent, Json } from "../session.js";
import type { AgentLike } from "./agent.js";
import { assertUIName, Container, Interaction, UIApplication, type UIElement, Variable } from "./elements.js";
import { cloneJson, diffObjects, isObject, deepEqual, getPath, type JsonObject } from "../json.js";

const NOTHING_SENT: Promise<boolean> = Promise.resolve(false);

export const UI_STATE_CHANNEL = "ui_state";
export const UI_CMDS_CHANNEL = "ui_cmds";

export interface CommandContext {
  /** The command (interaction) name. */
  readonly name: string;
  readonly value: Json;
  /** The value seen before this one (null if none). */
  readonly previous: Json;
  /** The interaction of that name, if the app declared one. */
  readonly element: Interaction | undefined;
  readonly ui: UIManager;
  /** coerce(name, value): writes a value back to ui_cmds. */
  coerce(value: Json): Promise<void>;
  /** coerce(name, null): clears the command (an action after it ran). */
  clear(): Promise<void>;
}

export type CommandHandler = (value: Json, ctx: CommandContext) => unknown;

export interface UIErrorInfo {
  name: string;
  value: Json;
}

export interface UIManagerOptions {
  agent: AgentLike;
  appKey: string;
  /** Receives errors thrown by command handlers; default the agent's reportError (or console.error). */
  onError?: (error: unknown, info: UIErrorInfo) => void;
  /** Also append each ui_state diff to the channel's message log; default false. */
  logState?: boolean;
  /** The application's `displayString` in the tree. */
  displayString?: string;
}

interface HandlerEntry {
  match: string | RegExp;
  handler: CommandHandler;
}

export class UIManager {
  private handedOver = false;
  readonly agent: AgentLike;
  readonly appKey: string;
  /** The app's root element; add elements here or with `ui.add()`. */
  readonly root: UIApplication;
  onError: ((error: unknown, info: UIErrorInfo) => void) | undefined;
  private readonly logState: boolean;

  private dirty = true;
  /** The tree as last published (or found stored at start). */
  private sent: JsonObject = {};
  private started = false;
  private closed = false;
  private unsubscribe: (() => void) | null = null;
  /** Command values last seen per name (null values are absent). */
  private readonly seen = new Map<string, Json>();
  private readonly handlers: HandlerEntry[] = [];
  private queue: Promise<void> = Promise.resolve();
  private commitChain: Promise<unknown> = Promise.resolve();
  /** commit() calls whose run has not finished. */
  private queuedCommits = 0;

  constructor(options: UIManagerOptions) {
    assertUIName(options.appKey, "app key");
    this.agent = options.agent;
    this.appKey = options.appKey;
    this.onError = options.onError;
    this.logState = options.logState ?? false;
    this.root = new UIApplication(options.appKey, options.displayString);
    this.root._onChange = () => {
      this.dirty = true;
    };
  }

  // ----- elements -------------------------------------------------------------------------------

  /** Adds elements to the app's root (names unique across the app; TAGWIRE_ERR_UI otherwise). */
  add(...elements: UIElement[]): this {
    this.root.add(...elements);
    // Elements declared after start() getPath up the command values already received.
    for (const element of elements) this.applySeen(element);
    return this;
  }

  remove(...elements: (UIElement | string)[]): this {
    for (const item of elements) {
      const element = typeof item === "string" ? this.root._registry.get(item) : item;
      element?.parent?.remove(element);
    }
    return this;
  }

  /**
   * The element named `name` anywhere in the app (TAGWIRE_ERR_UI if none). The type argument is
   * the caller's claim: `ui.get<NumericVariable>("temp").currentValue = 21.5`.
   */
  get<T extends UIElement = UIElement>(name: string): T {
    const element = this.root._registry.get(name);
    if (element === undefined)
      throw new TagwireError("TAGWIRE_ERR_UI", `no UI element named ${JSON.stringify(name)} in app ${this.appKey}`);
    return element as T;
  }

  tryGet(name: string): UIElement | undefined {
    return this.root._registry.get(name);
  }

  /** Sets a variable's value (marks the tree dirty when it changes). Interactions use coerce(). */
  setValue(name: string, value: Json | Date): void {
    const element = this.get(name);
    if (element instanceof Variable) {
      element.currentValue = value as Json;
      return;
    }
    if (element instanceof Interaction) {
      throw new TagwireError("TAGWIRE_ERR_UI", `${JSON.stringify(name)} is an interaction: use coerce() to write its value to ui_cmds`);
    }
    throw new TagwireError("TAGWIRE_ERR_UI", `${JSON.stringify(name)} (${element.type}) holds no value`);
  }

  /** A variable's or interaction's current value; for a bare command name, its last ui_cmds value. */
  getValue(name: string): Json {
    const element = this.root._registry.get(name);
    if (element instanceof Variable || element instanceof Interaction) return cloneJson(element.currentValue as Json);
    if (element !== undefined) throw new TagwireError("TAGWIRE_ERR_UI", `${JSON.stringify(name)} (${element.type}) holds no value`);
    return cloneJson(this.seen.get(name) ?? null);
  }

  /** False when commit() would send nothing and has nothing queued (it resolves false at once then). */
  get needsCommit(): boolean {
    return this.queuedCommits !== 0 || (!this.closed && this.dirty);
  }

  /** True when something changed since the last commit. */
  get isDirty(): boolean {
    return this.dirty;
  }

  /** Forces the next commit to compare trees (after mutating an element's array or object in place). */
  markDirty(): void {
    this.dirty = true;
  }

  /** The app's tree as it would be published. */
  toJSON(): JsonObject {
    return this.root.toJSON();
  }

  // ----- commands -------------------------------------------------------------------------------

  /**
   * Calls `handler(value, ctx)` when command `name` (or any name matching a RegExp) gets a new
   * non-null value. Returns a function that removes the handler.
   */
  onCommand(name: string | RegExp, handler: CommandHandler): () => void {
    let match: string | RegExp;
    if (typeof name === "string") {
      assertUIName(name, "command name");
      match = name;
    } else {
      // A global or sticky RegExp keeps state between test() calls; use a stateless copy.
      match = new RegExp(name.source, name.flags.replace(/[gy]/g, ""));
    }
    const entry: HandlerEntry = { match, handler };
    this.handlers.push(entry);
    return () => {
      const i = this.handlers.indexOf(entry);
      if (i >= 0) this.handlers.splice(i, 1);
    };
  }

  /**
   * Writes `value` for command `name` to ui_cmds (`{ [appKey]: { [name]: value } }`) and to the
   * interaction's currentValue, without firing handlers. `coerce(name, null)` clears a command.
   */
  async coerce(name: string, value: Json, options: { log?: boolean } = {}): Promise<void> {
    assertUIName(name, "command name");
    if (this.closed) throw new TagwireError("TAGWIRE_ERR_CLOSED", `UI of app ${this.appKey} is closed`);
    const v = value === undefined ? null : cloneJson(value);
    // Recorded before publishing, so the echo of our own write is not taken for a new command.
    if (v === null) this.seen.delete(name);
    else this.seen.set(name, v);
    const element = this.root._registry.get(name);
    if (element instanceof Interaction) element._receive(v);
    await this.agent.publish(UI_CMDS_CHANNEL, { [this.appKey]: { [name]: v } });
    if (options.log ?? true) {
      await this.agent.createMessage(UI_CMDS_CHANNEL, { type: "log", app_key: this.appKey, key: name, value: v });
    }
  }

  // ----- lifecycle ------------------------------------------------------------------------------

  /**
   * Reads the stored UI (the diff baseline), subscribes to ui_cmds and replays the commands
   * already there. Resolves once those have been handled.
   */
  async start(): Promise<void> {
    if (this.handedOver) return;
    if (this.closed) throw new TagwireError("TAGWIRE_ERR_CLOSED", `UI of app ${this.appKey} is closed`);
    if (this.started) return;
    this.started = true;
    const stored = getPath(await this.agent.getAggregate(UI_STATE_CHANNEL), ["state", "children", this.appKey]);
    this.sent = isObject(stored) ? cloneJson(stored) : {};
    this.adoptStoredValues();
    this.dirty = true;
    // Read once explicitly, then subscribe: the subscription's sync covers anything written in
    // between, and equal values are not dispatched twice.
    this.enqueue(await this.agent.getAggregate(UI_CMDS_CHANNEL));
    const unsubscribe = await this.agent.subscribe(UI_CMDS_CHANNEL, (event: ChannelEvent) => {
      if (this.closed || event.channel !== UI_CMDS_CHANNEL || event.type === "message") return;
      this.enqueue(event.aggregate);
    });
    if (this.closed) unsubscribe();
    else this.unsubscribe = unsubscribe;
    await this.idle();
  }

  /**
   * Publishes the app's UI tree to ui_state as a diff, only if something changed. Resolves true
   * when something was published. After close() it does nothing.
   */
  commit(): Promise<boolean> {
    // A main loop commits every loop and the tree rarely changes: with nothing to send and no
    // commit queued (a failing one would mark the tree dirty again), answer without chaining.
    if (!this.needsCommit) return NOTHING_SENT;
    this.queuedCommits++;
    const run = this.commitChain
      .then(() => this.commitNow())
      .finally(() => {
        this.queuedCommits--;
      });
    this.commitChain = run.catch(() => undefined);
    return run;
  }

  /** Unsubscribes from ui_cmds and waits for the command in progress. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    await this.idle();
    await this.commitChain;
  }

  /** Resolves when every command received so far has been handled. */
  async idle(): Promise<void> {
    let pending: Promise<void>;
    do {
      pending = this.queue;
      await pending;
    } while (pending !== this.queue);
  }

  // ----- internals ------------------------------------------------------------------------------

  /**
   * The app's `ui_state` entry now belongs to a 1.x UI (ui/v1 attachUI): this 0.4 tree stops
   * publishing and reading commands, so the two never overwrite each other.
   */
  async handOver(): Promise<void> {
    this.handedOver = true;
    await this.close();
  }

  private async commitNow(): Promise<boolean> {
    if (this.closed || !this.dirty) return false;
    this.dirty = false;
    const tree = this.root.toJSON();
    const diff = diffObjects(this.sent, tree);
    if (diff === undefined) return false;
    try {
      await this.agent.publish(UI_STATE_CHANNEL, { state: { children: { [this.appKey]: diff } } }, { log: this.logState });
    } catch (error) {
      this.dirty = true;
      throw error;
    }
    this.sent = tree;
    return true;
  }

  private enqueue(aggregate: Json): void {
    this.queue = this.queue.then(() => this.process(aggregate)).catch((error: unknown) => this.report(error, { name: "", value: null }));
  }

  private async process(aggregate: Json): Promise<void> {
    if (this.closed) return;
    const own = getPath(aggregate, [this.appKey]);
    const values: JsonObject = isObject(own) ? own : {};
    const names = new Set([...Object.keys(values), ...this.seen.keys()]);
    for (const name of names) {
      const value = Object.prototype.hasOwnProperty.call(values, name) ? values[name]! : null;
      const previous = this.seen.get(name) ?? null;
      if (deepEqual(previous, value)) continue;
      if (value === null) this.seen.delete(name);
      else this.seen.set(name, cloneJson(value));
      const element = this.root._registry.get(name);
      const interaction = element instanceof Interaction ? element : undefined;
      interaction?._receive(value);
      if (value !== null) await this.dispatch(name, value, previous, interaction);
    }
  }

  private async dispatch(name: string, value: Json, previous: Json, element: Interaction | undefined): Promise<void> {
    const ctx: CommandContext = {
      name,
      value,
      previous,
      element,
      ui: this,
      coerce: (v: Json) => this.coerce(name, v),
      clear: () => this.coerce(name, null),
    };
    for (const entry of this.handlers.slice()) {
      const hit = typeof entry.match === "string" ? entry.match === name : entry.match.test(name);
      if (!hit) continue;
      try {
        await entry.handler(cloneJson(value), ctx);
      } catch (error) {
        this.report(error, { name, value });
      }
    }
  }

  private report(error: unknown, info: UIErrorInfo): void {
    try {
      const context = `UI command ${JSON.stringify(info.name)} of app ${this.appKey}`;
      if (this.onError !== undefined) this.onError(error, info);
      else if (typeof this.agent.reportError === "function") this.agent.reportError(error, context);
      else console.error(`tagwire: ${context}:`, error);
    } catch (hookError) {
      console.error(`tagwire ui ${this.appKey}: onError threw:`, hookError);
    }
  }

  private applySeen(element: UIElement): void {
    if (element instanceof Interaction) {
      const value = this.seen.get(element.name);
      if (value !== undefined) element._receive(value);
    } else if (element instanceof Container) {
      for (const child of element.children) this.applySeen(child);
    }
  }

  /** pydoover's recv_ui_state_update: a variable with no value takes the one stored in ui_state. */
  private adoptStoredValues(): void {
    for (const element of this.root._registry.values()) {
      if (!(element instanceof Variable) || element.currentValue !== null) continue;
      const path: string[] = [];
      for (let node: UIElement | null = element; node !== null && node !== this.root; node = node.parent)
        path.unshift("children", node.name);
      const stored = getPath(this.sent, [...path, "currentValue"]);
      if (stored !== undefined && stored !== null) element._adopt(stored);
    }
  }
}

/**
 * A method decorator (TC39 decorators) that registers the method as the handler of a command on
 * `this.ui`, for classes whose `ui` exists before their own fields initialise (Application
 * subclasses: the base constructor creates it):
 *
 *     class Pump extends Application {
 *       @uiCommand("start") async onStart(value: Json, ctx: CommandContext) { ...; await ctx.clear(); }
 *     }
 *
 * Needs a compiler that lowers TC39 (2023) decorators: tsc 5 (without experimentalDecorators)
 * and esbuild do; oxc (vite 8, and so this repo's vitest) does not yet. `ui.onCommand` is the
 * same thing without syntax.
 */
export function uiCommand(name: string | RegExp) {
  if (typeof name === "string") assertUIName(name, "command name");
  return <This, Fn extends (this: This, value: any, ctx: CommandContext) => unknown>(
    method: Fn,
    context: ClassMethodDecoratorContext<This, Fn>,
  ): void => {
    context.addInitializer(function (this: This) {
      const ui = (this as { ui?: unknown }).ui;
      if (!(ui instanceof UIManager)) {
        throw new TagwireError(
          "TAGWIRE_ERR_UI",
          `@uiCommand(${String(name)}) on ${String(context.name)}: this.ui is not a UIManager when the instance initialises`,
        );
      }
      ui.onCommand(name, (value, ctx) => method.call(this, value, ctx));
    });
  };
}
