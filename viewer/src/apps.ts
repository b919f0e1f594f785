// The applications of the selected agent, from its `ui_state` aggregate
// ({ state: { children: { <app key>: <uiApplication> } } }). Both generations of Doover app live
// there side by side: a pydoover 1.x schema (values referenced from tag_values, commands as RPC
// requests; ui1x/view.ts) and a 0.4 tree (values inside ui_state, commands merged into ui_cmds;
// app-ui.ts). Each app is drawn by the view of its generation.
import { isObject } from "../../bindings/sdk/json.js";
import type { SeriesSource } from "./chart.js";
import { AppUiView, type AppUiHooks } from "./app-ui.js";
import { h } from "./dom.js";
import type { ChannelState, Store } from "./store.js";
import { numOf, sortedChildren, str, type El } from "./ui-parts.js";
import { DEPLOYMENT_CONFIG, isApp1x, TAG_VALUES, Ui1xView, type Ui1xHooks } from "./ui1x/view.js";
import { resolveValue, tagPath } from "./ui1x/refs.js";

export const UI_STATE = "ui_state";

/** The channels whose changes the app views must see. */
export function feedsApps(ch: ChannelState): boolean {
  return ch.channel === UI_STATE || ch.channel === "ui_cmds" || ch.channel === TAG_VALUES || ch.channel === DEPLOYMENT_CONFIG;
}

export class AppsView {
  private readonly legacy: AppUiView;
  private readonly current: Ui1xView;

  constructor(
    el: HTMLElement,
    private readonly store: Store,
    hooks: AppUiHooks & Ui1xHooks,
  ) {
    const modern = h("div", { className: "apps", "data-generation": "1.x" });
    const old = h("div", { className: "apps", "data-generation": "0.4" });
    el.replaceChildren(modern, old);
    this.current = new Ui1xView(modern, store, hooks);
    this.legacy = new AppUiView(old, store, hooks);
  }

  render(agentId: string | undefined): void {
    const apps = this.apps(agentId);
    this.current.render(
      agentId,
      apps.filter(([, app]) => this.is1x(app)),
    );
    this.legacy.render(
      agentId,
      apps.filter(([, app]) => !this.is1x(app)),
    );
  }

  /** Which generation an app is, found once per schema object (ui_state changes make new ones). */
  private readonly generation = new WeakMap<El, boolean>();
  private is1x(app: El): boolean {
    let known = this.generation.get(app);
    if (known === undefined) {
      known = isApp1x(app);
      this.generation.set(app, known);
    }
    return known;
  }

  /** The first numeric variable of the agent's apps, as a chart source (to start the chart). */
  firstSeries(agentId: string): SeriesSource | undefined {
    for (const [appKey, app] of this.apps(agentId)) {
      const found = this.is1x(app)
        ? firstTagNumber(this.store, agentId, appKey, app)
        : firstStateNumber(app, ["state", "children", appKey]);
      if (found) return { agentId, ...found };
    }
    return undefined;
  }

  private apps(agentId: string | undefined): Array<[string, El]> {
    const state = agentId ? this.store.channel(agentId, UI_STATE)?.aggregate : undefined;
    const children = isObject(state) && isObject(state.state) && isObject(state.state.children) ? state.state.children : {};
    return Object.entries(children).filter((e): e is [string, El] => isObject(e[1]));
  }
}

type Found = Omit<SeriesSource, "agentId">;

function describe(n: El, name: string, channel: string, path: string[]): Found {
  const found: Found = { channel, path, label: str(n.displayString) ?? name };
  const units = str(n.units);
  const precision = numOf(n.decPrecision);
  if (units !== undefined) found.units = units;
  if (precision !== undefined) found.precision = precision;
  return found;
}

/** 0.4: a float uiVariable holds its value in ui_state. */
function firstStateNumber(node: El, path: string[]): Found | undefined {
  for (const [name, child] of sortedChildren(node)) {
    const p = [...path, "children", name];
    if (child.type === "uiVariable" && child.varType === "float" && typeof child.currentValue === "number")
      return describe(child, name, UI_STATE, [...p, "currentValue"]);
    const found = firstStateNumber(child, p);
    if (found) return found;
  }
  return undefined;
}

/** 1.x: a float uiVariable bound to a tag is charted from tag_values. */
function firstTagNumber(store: Store, agentId: string, appKey: string, node: El): Found | undefined {
  for (const [name, child] of sortedChildren(node, () => false)) {
    if (child.type === "uiVariable" && child.varType === "float") {
      const path = tagPath(child.currentValue, appKey);
      const tags = store.channel(agentId, TAG_VALUES)?.aggregate;
      if (path && typeof resolveValue(child.currentValue, { appKey, tags, cmds: undefined, config: undefined }) === "number")
        return describe(child, name, TAG_VALUES, path);
    }
    const found = firstTagNumber(store, agentId, appKey, child);
    if (found) return found;
  }
  return undefined;
}
