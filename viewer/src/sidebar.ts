// Agents and their channels, live: new ones appear as they are first seen, a channel blinks when
// it changes, an agent's dot is green while it has written in the last 15 s.
import { h } from "./dom.js";
import type { ChannelState, Store } from "./store.js";

const LIVE_MS = 15_000;

export interface SidebarHooks {
  select(agentId: string, channel?: string): void;
}

export class Sidebar {
  private filter = "";
  private selectedAgent: string | undefined;
  private selectedChannel: string | undefined;
  private readonly buttons = new Map<string, HTMLButtonElement>();

  constructor(
    private readonly el: HTMLElement,
    private readonly countEl: HTMLElement,
    filterInput: HTMLInputElement,
    private readonly store: Store,
    private readonly hooks: SidebarHooks,
  ) {
    filterInput.addEventListener("input", () => {
      this.filter = filterInput.value.trim().toLowerCase();
      this.render();
    });
    setInterval(() => this.refreshLive(), 2000);
  }

  setSelection(agentId: string | undefined, channel: string | undefined): void {
    this.selectedAgent = agentId;
    this.selectedChannel = channel;
    this.render();
  }

  render(): void {
    this.buttons.clear();
    const agents = [...this.store.agents.values()].sort((a, b) => a.id.localeCompare(b.id));
    this.countEl.textContent = String(agents.length);
    const items: HTMLElement[] = [];
    for (const agent of agents) {
      const agentMatch = !this.filter || agent.id.toLowerCase().includes(this.filter);
      const channels = [...agent.channels.values()]
        .filter((c) => agentMatch || c.channel.toLowerCase().includes(this.filter))
        .sort((a, b) => a.channel.localeCompare(b.channel));
      if (!agentMatch && channels.length === 0) continue;
      const live = h("span", {
        className: `live${Date.now() - agent.updatedAt < LIVE_MS ? " on" : ""}`,
        "data-live": agent.id,
        title: "active in the last 15 s",
      });
      const row = h(
        "button",
        { type: "button", className: "agent-row", onclick: () => this.hooks.select(agent.id) },
        h("span", { className: "agent-icon" }, agent.id.slice(0, 2).toUpperCase()),
        h("span", null, agent.id),
        live,
      );
      const list = h("ul", { className: "channels" });
      for (const ch of channels) {
        const selected = agent.id === this.selectedAgent && ch.channel === this.selectedChannel;
        const button = h(
          "button",
          {
            type: "button",
            className: `channel${selected ? " selected" : ""}`,
            "data-channel": ch.key,
            onclick: () => this.hooks.select(agent.id, ch.channel),
          },
          h("span", { className: "blip" }),
          h("span", null, ch.channel),
          h("span", { className: "ver" }, ch.version ? `v${ch.version}` : ""),
        );
        this.buttons.set(ch.key, button);
        list.append(h("li", null, button));
      }
      items.push(h("div", { className: `agent${agent.id === this.selectedAgent ? " selected" : ""}`, "data-agent": agent.id }, row, list));
    }
    if (items.length === 0)
      items.push(h("p", { className: "empty" }, this.store.agents.size ? "No channel matches." : "Waiting for data…"));
    this.el.replaceChildren(...items);
  }

  /** A channel changed: blink it and show its version, without redrawing the list. */
  changed(ch: ChannelState): void {
    const button = this.buttons.get(ch.key);
    if (!button) return;
    const blip = button.querySelector(".blip")!;
    blip.classList.remove("hot");
    void (blip as HTMLElement).offsetWidth;
    blip.classList.add("hot");
    button.querySelector(".ver")!.textContent = ch.version ? `v${ch.version}` : "";
    const live = this.el.querySelector(`[data-live="${CSS.escape(ch.agentId)}"]`);
    live?.classList.add("on");
  }

  private refreshLive(): void {
    const now = Date.now();
    for (const agent of this.store.agents.values()) {
      this.el.querySelector(`[data-live="${CSS.escape(agent.id)}"]`)?.classList.toggle("on", now - agent.updatedAt < LIVE_MS);
    }
  }
}
