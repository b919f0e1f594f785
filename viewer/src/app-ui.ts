// The applications of the selected agent, drawn from its `ui_state` aggregate
// ({ state: { children: { [appKey]: <uiApplication> } } }, bindings/sdk/ui/manager.ts) and
// driving its `ui_cmds` aggregate ({ [appKey]: { [name]: value } }).
//
// Variables show their value with units and precision (numbers also get a coloured range bar
// when the app declared ranges, and can be charted); parameters are inputs, actions buttons
// (with a confirmation dialog when `requiresConfirm`). A command is one merge into ui_cmds,
// logged as a message for the audit trail. An action shows as busy until the app clears it
// (the SDK's handlers do `ctx.clear()`), which is how the page knows the device handled it.
//
// The DOM is rebuilt only when the tree's shape changes (elements added, removed, relabelled);
// value changes update the existing nodes, so an input being typed into keeps its text and focus.
import { TagwireError } from "../../bindings/core/errors.js";
import { isObject } from "../../bindings/sdk/json.js";
import type { Json } from "../../bindings/sdk/session.js";
import { chartIcon, confirmDialog, h, toast } from "./dom.js";
import { num } from "./format.js";
import type { ChannelState, Store } from "./store.js";
import { cssColour, mergeActions, numOf, rangeBar, sortedChildren, str, type El } from "./ui-parts.js";

interface Rendered {
  el: HTMLElement;
  /** `command`: this element's value in ui_cmds; `cmdsVersion`: the ui_cmds version it is from. */
  update(element: El, command: Json | undefined, cmdsVersion: number): void;
}

export interface AppUiHooks {
  charted(agentId: string, channel: string, path: string[]): boolean;
  chart(agentId: string, channel: string, path: string[], label: string, units?: string, precision?: number): void;
  /** False for a read-only token: inputs and buttons are disabled. */
  canCommand(): boolean;
}

/** The tree without its values: when this changes, the DOM is rebuilt. */
function shapeOf(node: unknown): string {
  return JSON.stringify(node, (key, value) => (key === "currentValue" ? undefined : value));
}

export class AppUiView {
  private readonly el: HTMLElement;
  private readonly store: Store;
  private readonly hooks: AppUiHooks;
  private agentId: string | undefined;
  private shape = "";
  private readonly updaters = new Map<string, Rendered>();

  constructor(el: HTMLElement, store: Store, hooks: AppUiHooks) {
    this.el = el;
    this.store = store;
    this.hooks = hooks;
  }

  /** Draws `apps` (app key -> 0.4 tree) of `agentId`; nothing when the list is empty. */
  render(agentId: string | undefined, list: Array<[string, El]>): void {
    const cmds = agentId ? this.store.channel(agentId, "ui_cmds") : undefined;
    if (!agentId || list.length === 0) {
      this.el.replaceChildren();
      this.shape = "";
      this.updaters.clear();
      this.agentId = agentId;
      return;
    }
    const apps: El = Object.fromEntries(list);
    const shape = `${agentId}|${this.hooks.canCommand()}|${shapeOf(apps)}`;
    if (shape !== this.shape || agentId !== this.agentId) {
      this.agentId = agentId;
      this.shape = shape;
      this.updaters.clear();
      this.el.replaceChildren(...list.map(([appKey, app]) => this.appCard(agentId, appKey, app)));
    }
    this.update(apps, cmds);
  }

  private update(apps: El, cmds: ChannelState | undefined): void {
    const commands = isObject(cmds?.aggregate) ? cmds!.aggregate : {};
    const version = cmds?.version ?? 0;
    const walk = (appKey: string, node: El, path: string[]) => {
      for (const [name, child] of sortedChildren(node)) {
        const p = [...path, "children", name];
        const r = this.updaters.get(`${appKey}/${p.join("/")}`);
        const appCmds = commands[appKey];
        r?.update(child, isObject(appCmds) ? appCmds[name] : undefined, version);
        if (isObject(child.children)) walk(appKey, child, p);
      }
    };
    for (const [appKey, app] of Object.entries(apps)) if (isObject(app)) walk(appKey, app, []);
  }

  private appCard(agentId: string, appKey: string, app: El): HTMLElement {
    const title = str(app.displayString) ?? appKey;
    const body = h("div", { className: "app-body" });
    const loose: HTMLElement[] = [];
    const flushLoose = () => {
      if (!loose.length) return;
      const inner = h("div", { className: "group-body", style: "padding-top:12px" }, loose.splice(0));
      mergeActions(inner);
      body.append(h("div", { className: "group" }, inner));
    };
    for (const [name, child] of sortedChildren(app)) {
      const path = ["state", "children", appKey, "children", name];
      if (isContainer(child)) {
        flushLoose();
        body.append(this.group(agentId, appKey, name, child, path));
      } else {
        const r = this.element(agentId, appKey, name, child, path);
        if (r) loose.push(r.el);
      }
    }
    flushLoose();
    return h(
      "section",
      { className: "card app-card", "data-app": appKey },
      h(
        "header",
        { className: "card-head" },
        h("h2", null, title),
        h("span", { className: "badge" }, `app ${appKey}`),
        h("div", { className: "spacer" }),
        h("span", { className: "muted small" }, "from ui_state"),
      ),
      body,
    );
  }

  private group(agentId: string, appKey: string, name: string, node: El, path: string[]): HTMLElement {
    const status = h("span", { className: "status" }, str(node.statusString) ?? "");
    const inner = h("div", { className: "group-body" });
    for (const [childName, child] of sortedChildren(node)) {
      const childPath = [...path, "children", childName];
      if (isContainer(child)) {
        const nested = this.group(agentId, appKey, childName, child, childPath);
        nested.style.gridColumn = "1 / -1";
        inner.append(nested);
      } else {
        const r = this.element(agentId, appKey, childName, child, childPath);
        if (r) inner.append(r.el);
      }
    }
    mergeActions(inner);
    const el = h(
      "div",
      { className: "group", "data-element": name },
      h("div", { className: "group-head" }, str(node.displayString) ?? name, status),
      inner,
    );
    this.updaters.set(`${appKey}/${path.slice(3).join("/")}`, { el, update: (n) => (status.textContent = str(n.statusString) ?? "") });
    return el;
  }

  private element(agentId: string, appKey: string, name: string, node: El, path: string[]): Rendered | undefined {
    const type = str(node.type) ?? "";
    let r: Rendered | undefined;
    switch (type) {
      case "uiVariable":
        r = this.variable(agentId, name, node, path);
        break;
      case "uiAction":
        r = this.action(agentId, appKey, name, node);
        break;
      case "uiFloatParam":
      case "uiTextParam":
      case "uiDatetimeParam":
      case "uiInteraction":
        r = this.input(agentId, appKey, name, node, type);
        break;
      case "uiBoolParam":
        r = this.toggle(agentId, appKey, name, node);
        break;
      case "uiStateCommand":
        r = this.select(agentId, appKey, name, node);
        break;
      case "uiSlider":
        r = this.slider(agentId, appKey, name, node);
        break;
      case "uiAlertStream":
        return undefined; // the notifications feed shows alerts
      default:
        r = {
          el: this.box(name, node, h("div", { className: "hint" }, `${type || "element"} (not shown by this viewer)`)),
          update: () => {},
        };
    }
    this.updaters.set(`${appKey}/${path.slice(3).join("/")}`, r);
    return r;
  }

  private box(name: string, node: El, ...content: HTMLElement[]): HTMLElement {
    const label = h("div", { className: "label" }, str(node.displayString) ?? name);
    const help = str(node.helpString);
    const el = h(
      "div",
      { className: `element${node.isAvailable === false ? " unavailable" : ""}`, "data-element": name, title: help ?? false },
      label,
      ...content,
    );
    return el;
  }

  private variable(agentId: string, name: string, node: El, path: string[]): Rendered {
    const varType = str(node.varType) ?? "float";
    const precision = numOf(node.decPrecision);
    const units = str(node.units);
    const value = h("div", { className: `value${varType === "string" ? " text" : ""}` });
    const content: HTMLElement[] = [value];
    const bar =
      varType === "float"
        ? rangeBar(
            (Array.isArray(node.ranges) ? node.ranges.filter(isObject) : []).map((r) => ({
              min: numOf(r.min),
              max: numOf(r.max),
              colour: str(r.colour),
              label: str(r.label),
            })),
          )
        : undefined;
    if (bar) content.push(...bar.els);
    const el = this.box(name, node, ...content);
    if (varType === "float") {
      const label = str(node.displayString) ?? name;
      const on = this.hooks.charted(agentId, "ui_state", [...path, "currentValue"]);
      const btn = h("button", {
        type: "button",
        className: `icon-btn${on ? " on" : ""}`,
        title: "Chart this value",
        "aria-label": `Chart ${label}`,
      });
      btn.append(chartIcon());
      btn.addEventListener("click", () => {
        this.hooks.chart(agentId, "ui_state", [...path, "currentValue"], label, units, precision);
        btn.classList.toggle("on", this.hooks.charted(agentId, "ui_state", [...path, "currentValue"]));
      });
      el.firstElementChild!.append(btn);
    }
    let last: string | undefined;
    return {
      el,
      update: (n) => {
        const v = n.currentValue;
        let text: string;
        value.replaceChildren();
        if (v === undefined || v === null) text = "–";
        else if (varType === "bool") text = v ? "Yes" : "No";
        else if (varType === "time" && typeof v === "number") text = new Date(v * 1000).toLocaleString();
        else if (typeof v === "number") text = num(v, precision);
        else text = String(v);
        if (varType === "string" && typeof v === "string") value.append(h("span", { className: "pill-value" }, text));
        else value.append(text);
        if (units && typeof v === "number") value.append(h("span", { className: "unit" }, units));
        if (last !== undefined && last !== text) {
          value.classList.remove("changed");
          void value.offsetWidth; // restart the animation
          value.classList.add("changed");
        }
        last = text;
        if (bar && typeof v === "number") bar.place(v);
      },
    };
  }

  /** Sends a command; resolves to the ui_cmds version it made (-1 if queued offline), or undefined if refused. */
  private async command(agentId: string, appKey: string, name: string, value: Json): Promise<number | undefined> {
    const session = this.store.session;
    if (!session) return undefined;
    try {
      return (await session.publish(agentId, "ui_cmds", { [appKey]: { [name]: value } }, { log: true })).version;
    } catch (error) {
      const message = error instanceof TagwireError ? `${error.message} (${error.code})` : String(error);
      toast(`Command ${name} refused: ${message}`, "error");
      return undefined;
    }
  }

  private action(agentId: string, appKey: string, name: string, node: El): Rendered {
    const label = str(node.displayString) ?? name;
    const button = h("button", { type: "button", className: "btn action-btn", "data-action": name }, label);
    const colour = str(node.colour);
    let waiting: ReturnType<typeof setTimeout> | undefined;
    /** The ui_cmds version our press made: a later version without the command means handled. */
    let sentVersion = Infinity;
    const done = () => {
      if (waiting) clearTimeout(waiting);
      waiting = undefined;
      sentVersion = Infinity;
      button.classList.remove("busy");
    };
    button.addEventListener("click", async () => {
      if (node.requiresConfirm === true && !(await confirmDialog(label, `Send “${label}” to ${agentId}?`, label))) return;
      button.classList.add("busy");
      const version = await this.command(agentId, appKey, name, true);
      if (version === undefined) return done();
      sentVersion = Math.max(version, 0);
      // Busy until the app clears the command (it handled it), or give up after 15 s.
      waiting = setTimeout(() => {
        done();
        toast(`${agentId} has not handled “${label}” yet`, "error");
      }, 15_000);
    });
    const el = this.box(name, node, button);
    el.classList.add("actions");
    el.querySelector(".label")!.remove();
    return {
      el,
      update: (n, cmd, cmdsVersion) => {
        const c = cssColour(str(n.colour) ?? colour);
        if (c) {
          button.dataset.colour = "1";
          button.style.background = c;
        }
        button.disabled = n.disabled === true || n.isAvailable === false || !this.hooks.canCommand();
        if (waiting && cmdsVersion > sentVersion && (cmd === undefined || cmd === null)) done();
      },
    };
  }

  private input(agentId: string, appKey: string, name: string, node: El, type: string): Rendered {
    const numeric = type === "uiFloatParam";
    const datetime = type === "uiDatetimeParam";
    const area = type === "uiTextParam" && node.isTextArea === true;
    const field = (
      area
        ? h("textarea", { className: "input", rows: 2 })
        : h("input", {
            className: "input",
            type: numeric ? "number" : datetime ? (node.includeTime ? "datetime-local" : "date") : "text",
            step: numeric ? "any" : false,
          })
    ) as HTMLInputElement;
    if (numeric && numOf(node.min) !== undefined) field.min = String(node.min);
    if (numeric && numOf(node.max) !== undefined) field.max = String(node.max);
    field.setAttribute("aria-label", str(node.displayString) ?? name);
    const set = h("button", { type: "submit", className: "btn" }, "Set");
    const hint = h("div", { className: "hint" });
    const form = h("form", { className: "param-row" }, field, set);
    let dirty = false;
    field.addEventListener("input", () => (dirty = true));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      let value: Json;
      if (numeric) {
        value = Number(field.value);
        if (field.value.trim() === "" || !Number.isFinite(value)) return toast("Enter a number", "error");
        if ((numOf(node.min) !== undefined && value < numOf(node.min)!) || (numOf(node.max) !== undefined && value > numOf(node.max)!)) {
          return toast(`${str(node.displayString) ?? name}: between ${node.min ?? "-∞"} and ${node.max ?? "∞"}`, "error");
        }
      } else if (datetime) {
        const t = new Date(field.value).getTime();
        if (!Number.isFinite(t)) return toast("Enter a date", "error");
        value = Math.floor(t / 1000);
      } else value = field.value;
      set.classList.add("busy");
      if ((await this.command(agentId, appKey, name, value)) !== undefined) dirty = false;
      set.classList.remove("busy");
    });
    const el = this.box(name, node, form, hint);
    return {
      el,
      update: (n, cmd) => {
        const current = cmd !== undefined && cmd !== null ? cmd : n.currentValue;
        const enabled = n.isAvailable !== false && this.hooks.canCommand();
        field.disabled = !enabled;
        set.disabled = !enabled;
        const range = numeric && (n.min !== undefined || n.max !== undefined) ? ` · ${n.min ?? "−∞"} to ${n.max ?? "∞"}` : "";
        hint.textContent =
          current === undefined || current === null
            ? `not set${range}`
            : `current ${datetime && typeof current === "number" ? new Date(current * 1000).toLocaleString() : String(current)}${range}`;
        if (!dirty && document.activeElement !== field) {
          if (current === undefined || current === null) field.value = "";
          else if (datetime && typeof current === "number")
            field.value = new Date(current * 1000 - new Date().getTimezoneOffset() * 60_000)
              .toISOString()
              .slice(0, node.includeTime ? 16 : 10);
          else field.value = String(current);
        }
      },
    };
  }

  private toggle(agentId: string, appKey: string, name: string, node: El): Rendered {
    const button = h("button", {
      type: "button",
      className: "toggle",
      role: "switch",
      "aria-checked": "false",
      "aria-label": str(node.displayString) ?? name,
    });
    button.addEventListener("click", () => void this.command(agentId, appKey, name, button.getAttribute("aria-checked") !== "true"));
    const el = this.box(name, node, button);
    return {
      el,
      update: (n, cmd) => {
        const v = cmd !== undefined && cmd !== null ? cmd : n.currentValue;
        button.setAttribute("aria-checked", v === true ? "true" : "false");
        button.disabled = n.isAvailable === false || !this.hooks.canCommand();
      },
    };
  }

  private select(agentId: string, appKey: string, name: string, node: El): Rendered {
    const field = h("select", { className: "input", "aria-label": str(node.displayString) ?? name });
    field.append(h("option", { value: "" }, "—"));
    const options = isObject(node.userOptions) ? Object.values(node.userOptions).filter(isObject) : [];
    for (const o of options) field.append(h("option", { value: str(o.name) ?? "" }, str(o.displayString) ?? str(o.name) ?? ""));
    field.addEventListener("change", () => {
      if (field.value) void this.command(agentId, appKey, name, field.value);
    });
    const el = this.box(name, node, field);
    return {
      el,
      update: (n, cmd) => {
        const v = cmd !== undefined && cmd !== null ? cmd : n.currentValue;
        if (document.activeElement !== field) field.value = typeof v === "string" ? v : "";
        field.disabled = n.isAvailable === false || !this.hooks.canCommand();
      },
    };
  }

  private slider(agentId: string, appKey: string, name: string, node: El): Rendered {
    const field = h("input", {
      className: "input",
      type: "range",
      min: numOf(node.min) ?? 0,
      max: numOf(node.max) ?? 100,
      step: numOf(node.stepSize) ?? 1,
      "aria-label": str(node.displayString) ?? name,
    });
    const out = h("div", { className: "hint" });
    field.addEventListener("input", () => (out.textContent = field.value));
    field.addEventListener("change", () => void this.command(agentId, appKey, name, Number(field.value)));
    const el = this.box(name, node, field, out);
    return {
      el,
      update: (n, cmd) => {
        const v = cmd !== undefined && cmd !== null ? cmd : n.currentValue;
        if (typeof v === "number" && document.activeElement !== field) {
          field.value = String(v);
          out.textContent = String(v);
        }
        field.disabled = n.isAvailable === false || !this.hooks.canCommand();
      },
    };
  }
}

function isContainer(node: El): boolean {
  return node.type === "uiSubmodule" || node.type === "uiContainer" || node.type === "uiApplication";
}
