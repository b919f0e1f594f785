// The aggregate of the selected channel as a tree. Objects and arrays fold (the page remembers
// which); keys the last updates changed flash, and keep flashing across redraws: each node's
// animation starts from when its key changed (a negative delay), not from the redraw.
import type { Json } from "../../bindings/sdk/session.js";
import { chartIcon, h } from "./dom.js";
import { PATH_SEP, type ChannelState } from "./store.js";

const FLASH_MS = 1200;
/** Children shown per object or array before "show more". */
const PAGE = 200;

export interface TreeHooks {
  /** Is this field charted? */
  charted(path: string[]): boolean;
  /** The user asked to chart (or stop charting) a numeric field. */
  chart(path: string[]): void;
}

export class TreeView {
  private readonly el: HTMLElement;
  private readonly hooks: TreeHooks;
  /** Collapsed paths, per channel key. */
  private readonly collapsed = new Map<string, Set<string>>();
  private expandedAll = new Set<string>();

  constructor(el: HTMLElement, hooks: TreeHooks) {
    this.el = el;
    this.hooks = hooks;
  }

  render(ch: ChannelState | undefined): void {
    if (!ch) {
      this.el.replaceChildren(h("p", { className: "empty" }, "Select a channel."));
      return;
    }
    const value = ch.aggregate;
    if (value === null || typeof value !== "object" || Object.keys(value).length === 0) {
      this.el.replaceChildren(
        h("p", { className: "empty" }, ch.version === 0 ? "No aggregate yet (this channel only has messages)." : "Empty."),
      );
      return;
    }
    let folded = this.collapsed.get(ch.key);
    if (!folded) {
      folded = new Set();
      this.collapsed.set(ch.key, folded);
    }
    const now = Date.now();
    const scrollTop = this.el.scrollTop;
    this.el.replaceChildren(this.children(ch, value, [], folded, now));
    this.el.scrollTop = scrollTop;
  }

  private children(ch: ChannelState, value: Json, path: string[], folded: Set<string>, now: number): HTMLUListElement {
    const ul = h("ul", { role: path.length === 0 ? "tree" : "group" });
    const entries: Array<[string, Json]> = Array.isArray(value)
      ? value.map((v, i) => [String(i), v])
      : Object.entries(value as Record<string, Json>);
    const pathKey = path.join(PATH_SEP);
    const shown = this.expandedAll.has(`${ch.key}|${pathKey}`) ? entries : entries.slice(0, PAGE);
    for (const [key, child] of shown) ul.append(this.node(ch, key, child, [...path, key], folded, now));
    if (shown.length < entries.length) {
      ul.append(
        h(
          "li",
          null,
          h(
            "button",
            {
              type: "button",
              className: "btn btn-ghost small",
              onclick: () => {
                this.expandedAll.add(`${ch.key}|${pathKey}`);
                this.render(ch);
              },
            },
            `show ${entries.length - shown.length} more`,
          ),
        ),
      );
    }
    return ul;
  }

  private node(ch: ChannelState, key: string, value: Json, path: string[], folded: Set<string>, now: number): HTMLLIElement {
    const id = path.join(PATH_SEP);
    const container = value !== null && typeof value === "object";
    const isFolded = container && folded.has(id);
    const row = h("div", { className: "node", "data-path": path.join(".") });
    const twisty = h(
      "button",
      {
        type: "button",
        className: `twisty${container ? "" : " leaf"}`,
        "aria-label": isFolded ? "Expand" : "Collapse",
        tabindex: container ? 0 : -1,
      },
      container ? (isFolded ? "▶" : "▼") : "",
    );
    if (container) {
      twisty.addEventListener("click", () => {
        if (folded.has(id)) folded.delete(id);
        else folded.add(id);
        this.render(ch);
      });
    }
    row.append(twisty, h("span", { className: "key" }, key));
    if (container) {
      const n = Array.isArray(value) ? value.length : Object.keys(value).length;
      row.append(h("span", { className: "summary" }, Array.isArray(value) ? `[${n}]` : `{${n}}`));
    } else {
      row.append(leaf(value));
      if (typeof value === "number") {
        const on = this.hooks.charted(path);
        const btn = h("button", {
          type: "button",
          className: `icon-btn${on ? " on" : ""}`,
          title: on ? "Remove from chart" : "Chart this value",
          "aria-label": `Chart ${path.join(".")}`,
        });
        btn.append(chartIcon());
        btn.addEventListener("click", () => this.hooks.chart(path));
        row.append(btn);
      }
    }
    // A leaf flashes when it changed; a folded container when anything below it did.
    const changedAt = ch.changed.get(id);
    if (changedAt !== undefined && now - changedAt < FLASH_MS && (!container || isFolded)) {
      row.classList.add("changed");
      row.style.animationDelay = `${-(now - changedAt)}ms`;
    }
    const li = h("li", { role: "treeitem" }, row);
    if (container && !isFolded) li.append(this.children(ch, value, path, folded, now));
    return li;
  }
}

function leaf(value: Json): HTMLElement {
  if (value === null) return h("span", { className: "v-null" }, "null");
  switch (typeof value) {
    case "number":
      return h("span", { className: "v-number" }, String(value));
    case "boolean":
      return h("span", { className: "v-bool" }, String(value));
    default:
      return h("span", { className: "v-string" }, JSON.stringify(value));
  }
}
