// Notifications from every agent, newest first: the messages of each `notifications` channel
// (Doover's payload { message, title?, severity? 3..7, topic? }, bindings/sdk/alerts.ts), and
// above them the alerts still active (the aggregate's `active` map, kept by sendAlertOnce until
// clearAlert).
import { isObject } from "../../bindings/sdk/json.js";
import type { Message } from "../../bindings/sdk/session.js";
import { h } from "./dom.js";
import { ago, clock } from "./format.js";
import type { ChannelState, Store } from "./store.js";

export const NOTIFICATIONS = "notifications";
const SEVERITY = ["", "", "", "trace", "debug", "info", "warn", "critical"];
const SHOWN = 100;

interface Entry {
  agentId: string;
  message: Message;
}

export class NotificationFeed {
  private readonly entries: Entry[] = [];
  private readonly ids = new Set<string>();

  constructor(
    private readonly list: HTMLElement,
    private readonly alerts: HTMLElement,
    private readonly count: HTMLElement,
    private readonly store: Store,
  ) {
    setInterval(() => this.renderAlerts(), 15_000);
  }

  reset(): void {
    this.entries.length = 0;
    this.ids.clear();
    this.renderAll();
  }

  /** A notifications channel was first seen: load its recent history. */
  async discovered(ch: ChannelState): Promise<void> {
    try {
      await this.store.loadMessages(ch, 30);
    } catch {
      return; // not readable with this token: live ones still arrive
    }
    this.renderAll();
  }

  add(ch: ChannelState, message: Message, live: boolean): void {
    const key = `${ch.agentId}/${message.id}`;
    if (this.ids.has(key)) return;
    this.ids.add(key);
    this.entries.push({ agentId: ch.agentId, message });
    if (live) {
      if (this.list.querySelector(".empty")) this.list.replaceChildren();
      this.list.prepend(this.item({ agentId: ch.agentId, message }, true));
      while (this.list.children.length > SHOWN) this.list.lastElementChild!.remove();
      this.count.textContent = String(this.entries.length);
    }
  }

  renderAll(): void {
    this.entries.sort((a, b) => a.message.ts - b.message.ts);
    this.count.textContent = String(this.entries.length);
    if (this.entries.length === 0) {
      this.list.replaceChildren(h("li", { className: "empty" }, "No notifications yet."));
    } else {
      const items: HTMLElement[] = [];
      for (let i = this.entries.length - 1; i >= 0 && items.length < SHOWN; i--) items.push(this.item(this.entries[i]!, false));
      this.list.replaceChildren(...items);
    }
    this.renderAlerts();
  }

  /** Active alerts of every agent (from the notifications aggregates). */
  renderAlerts(): void {
    const cards: HTMLElement[] = [];
    for (const agent of this.store.agents.values()) {
      const ch = agent.channels.get(NOTIFICATIONS);
      const active = isObject(ch?.aggregate) ? ch!.aggregate.active : undefined;
      if (!isObject(active)) continue;
      for (const [appKey, alerts] of Object.entries(active)) {
        if (!isObject(alerts)) continue;
        for (const [id, alert] of Object.entries(alerts)) {
          if (!isObject(alert)) continue;
          const severity = typeof alert.severity === "number" ? alert.severity : 6;
          const since = typeof alert.since === "number" ? alert.since : undefined;
          cards.push(
            h(
              "div",
              { className: `alert sev-${severity}`, "data-alert": id, role: "alert" },
              h(
                "div",
                { className: "head" },
                "⚠ ",
                typeof alert.title === "string" ? alert.title : id,
                h("span", { className: "spacer" }),
                since ? h("span", { className: "since" }, `since ${ago(since)}`) : null,
              ),
              h("div", null, typeof alert.message === "string" ? alert.message : ""),
              h("div", { className: "since" }, `${agent.id} · ${appKey} · ${id}`),
            ),
          );
        }
      }
    }
    this.alerts.replaceChildren(...cards);
  }

  private item(e: Entry, fresh: boolean): HTMLElement {
    const data = e.message.data;
    const d = isObject(data) ? data : {};
    const severity = typeof d.severity === "number" ? d.severity : 5;
    const text = typeof d.message === "string" ? d.message : JSON.stringify(data);
    return h(
      "li",
      { className: `note sev-${severity}${fresh ? " new" : ""}`, "data-id": e.message.id },
      h(
        "div",
        { className: "head" },
        h("span", { className: "sev" }, SEVERITY[severity] ?? String(severity)),
        h("span", { className: "title" }, typeof d.title === "string" ? d.title : e.agentId),
        h("time", { datetime: new Date(e.message.ts).toISOString(), title: new Date(e.message.ts).toLocaleString() }, clock(e.message.ts)),
      ),
      h("div", { className: "body" }, text),
      h("div", { className: "meta" }, typeof d.topic === "string" ? `${e.agentId} · ${d.topic}` : e.agentId),
    );
  }
}
