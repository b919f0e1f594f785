// The Doover 1.x apps of the selected agent: each a `uiApplication` schema under its app key in
// ui_state (state.children.<app key>, replaced as a whole when the app changes it), whose
// element fields reference tag_values, ui_cmds and deployment_config (ui1x/refs.ts).
//
// The DOM is rebuilt only when a schema changes; a change in any of the three channels runs the
// elements' updates, which resolve their references again. Common to every element: `hidden` and
// `isAvailable` (either may be a reference) are applied here, so renderers need not.
import { isObject } from "../../../bindings/sdk/json.js";
import { TagwireError } from "../../../bindings/core/errors.js";
import type { Json } from "../../../bindings/sdk/session.js";
import { h, toast } from "../dom.js";
import { numOf, sortedChildren, str, type El } from "../ui-parts.js";
import type { Store } from "../store.js";
import { randomId } from "../../../bindings/protocol/ids.js";
import { directCommand, rpcRequest, UI_CMDS } from "./commands.js";
import { CommandReplies, type CommandReply } from "./replies.js";
import { CONTAINER_TYPES, container, groupBody, remoteComponent, submodule, tabs } from "./containers.js";
import type { ChartHooks, ElementContext, Rendered, Renderer } from "./context.js";
import { button, input, select, slider, toggleSwitch, warning } from "./interactions.js";
import { resolveValue, type RefScope } from "./refs.js";
import { alertStream, camera, connectionInfo, multiplot, unknown } from "./special.js";
import { timestamp, variable } from "./variables.js";

export const TAG_VALUES = "tag_values";
export const DEPLOYMENT_CONFIG = "deployment_config";
const REPLY_WAIT_MS = 5 * 60_000;

/** pydoover 1.x `type` strings and how each is drawn. */
const RENDERERS: Readonly<Record<string, Renderer>> = {
  uiVariable: variable,
  uiTimestamp: timestamp,
  uiButton: button,
  uiFloatInput: input("float"),
  uiTextInput: input("text"),
  uiDatetimeInput: input("datetime"),
  uiTimeInput: input("time"),
  uiSelect: select,
  uiSlider: slider,
  uiSwitch: toggleSwitch,
  uiWarningIndicator: warning,
  uiContainer: container,
  uiSubmodule: submodule,
  uiTabs: tabs,
  uiRemoteComponent: remoteComponent,
  uiMultiPlot: multiplot,
  uiConnectionInfo: connectionInfo,
  uiCameraLiveView: camera,
  uiCameraHistory: camera,
  uiAlertStream: alertStream,
};

/** Element types only 1.x writes (0.4's are uiAction, uiFloatParam, uiStateCommand, ...). */
const ONLY_1X = new Set([
  "uiButton",
  "uiFloatInput",
  "uiTextInput",
  "uiDatetimeInput",
  "uiTimeInput",
  "uiSelect",
  "uiSwitch",
  "uiTabs",
  "uiTimestamp",
  "uiCameraLiveView",
  "uiCameraHistory",
]);

/** True when `app` is a 1.x schema: it references channels, or uses an element only 1.x has. */
export function isApp1x(app: Json): boolean {
  if (typeof app === "string") return app.startsWith("$tag.") || app.startsWith("$cmds.") || app.startsWith("$config.");
  if (Array.isArray(app)) return app.some(isApp1x);
  if (!isObject(app)) return false;
  if (typeof app.type === "string" && ONLY_1X.has(app.type)) return true;
  return Object.values(app).some(isApp1x);
}

export interface Ui1xHooks {
  chartTags(agentId: string): ChartHooks;
  canCommand(): boolean;
}

export class Ui1xView {
  private shape = "";
  private updates: Array<() => void> = [];

  private readonly replies = new CommandReplies();

  constructor(
    private readonly el: HTMLElement,
    private readonly store: Store,
    private readonly hooks: Ui1xHooks,
  ) {
    store.listen({ message: (ch, message, live) => live && ch.channel === UI_CMDS && this.replies.offer(message) });
  }

  /** Draws `apps` (app key -> schema) of `agentId`; nothing when the list is empty. */
  render(agentId: string | undefined, apps: Array<[string, El]>): void {
    if (!agentId || apps.length === 0) {
      this.el.replaceChildren();
      this.shape = "";
      this.updates = [];
      return;
    }
    const shape = `${agentId}|${this.hooks.canCommand()}|${JSON.stringify(apps)}`;
    if (shape !== this.shape) {
      this.shape = shape;
      this.updates = [];
      // Apps by their position (pydoover: `$config.app().dv_app_position`, 100 by default).
      const position = ([appKey, app]: [string, El]) => numOf(resolveValue(app.position, this.scope(agentId, appKey))) ?? 100;
      const ordered = [...apps].sort((a, b) => position(a) - position(b));
      this.el.replaceChildren(...ordered.map(([appKey, app]) => this.appCard(agentId, appKey, app)));
    }
    for (const update of this.updates) {
      try {
        update();
      } catch (error) {
        console.error("tagwire viewer: a 1.x element failed to update", error);
      }
    }
  }

  private scope(agentId: string, appKey: string): RefScope {
    return {
      appKey,
      tags: this.store.channel(agentId, TAG_VALUES)?.aggregate,
      cmds: this.store.channel(agentId, UI_CMDS)?.aggregate,
      config: this.store.channel(agentId, DEPLOYMENT_CONFIG)?.aggregate,
    };
  }

  private context(agentId: string, appKey: string): ElementContext {
    const ctx: ElementContext = {
      agentId,
      appKey,
      value: (v) => resolveValue(v, this.scope(agentId, appKey)),
      send: (node, value, onReply) => this.send(agentId, appKey, node, value, onReply),
      canCommand: () => this.hooks.canCommand(),
      chart: this.hooks.chartTags(agentId),
      agentSeenAt: () => this.store.agents.get(agentId)?.updatedAt ?? 0,
      children: (node) => sortedChildren(node, () => false).map(([name, child]) => this.element(ctx, name, child)),
    };
    return ctx;
  }

  private element(ctx: ElementContext, name: string, node: El): Rendered {
    const render = RENDERERS[str(node.type) ?? ""] ?? unknown;
    const r = render(ctx, name, node);
    r.el.dataset.type = str(node.type) ?? "";
    this.updates.push(() => {
      r.el.hidden = ctx.value(node.hidden) === true;
      r.el.classList.toggle("unavailable", ctx.value(node.isAvailable) === false);
      r.update();
    });
    return r;
  }

  private appCard(agentId: string, appKey: string, app: El): HTMLElement {
    const ctx = this.context(agentId, appKey);
    // Loose elements of the app share a group; its containers are groups of their own.
    const loose: El = { children: {} };
    const grouped: Array<[string, El]> = [];
    for (const [name, child] of sortedChildren(app, () => false)) {
      if (CONTAINER_TYPES.has(str(child.type) ?? "")) grouped.push([name, child]);
      else (loose.children as El)[name] = child;
    }
    const body = h("div", { className: "app-body" });
    if (Object.keys(loose.children as El).length) body.append(h("div", { className: "group" }, withTopPadding(groupBody(ctx, loose).el)));
    for (const [name, child] of grouped) body.append(this.element(ctx, name, child).el);
    const title = h("h2");
    const card = h(
      "section",
      { className: "card app-card", "data-app": appKey, "data-generation": "1.x" },
      h(
        "header",
        { className: "card-head" },
        title,
        h("span", { className: "badge" }, `app ${appKey}`),
        h("span", { className: "badge gen" }, "Doover 1.x"),
        h("div", { className: "spacer" }),
        h("span", { className: "muted small" }, "from ui_state + tag_values"),
      ),
      body,
    );
    this.updates.push(() => {
      title.textContent = str(ctx.value(app.displayString)) || appKey;
      card.hidden = ctx.value(app.hidden) === true;
    });
    return card;
  }

  /** Sends a command as pydoover 1.x expects it; false when the hub refused it. */
  private async send(agentId: string, appKey: string, node: El, value: Json, onReply?: (reply: CommandReply) => void): Promise<boolean> {
    const session = this.store.session;
    const name = str(node.name);
    if (!session || !name) return false;
    // Named before sending and awaited first: the app may reply before the send resolves.
    const id = randomId();
    const stop = onReply && node.direct !== true ? this.replies.expect(id, onReply) : () => {};
    setTimeout(stop, REPLY_WAIT_MS); // an app that never replies does not keep the entry forever
    try {
      if (node.direct === true) await session.publish(agentId, UI_CMDS, directCommand(appKey, name, value));
      else
        await session.createMessage(agentId, UI_CMDS, rpcRequest(node.global === true ? undefined : appKey, name, value), {
          messageId: id,
        });
      return true;
    } catch (error) {
      stop();
      const message = error instanceof TagwireError ? `${error.message} (${error.code})` : String(error);
      toast(`Command ${name} refused: ${message}`, "error");
      return false;
    }
  }
}

function withTopPadding(el: HTMLElement): HTMLElement {
  el.style.paddingTop = "12px";
  return el;
}
