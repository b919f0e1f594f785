// Which agent and channel the page shows, kept in the address (#agent/channel) so a link or a
// reload opens the same view. With nothing chosen, the first agent with an app UI is shown.
import type { ChannelState, Store } from "./store.js";

export interface SelectionHooks {
  /** The selection changed (by a click, the address, or automatically). */
  changed(agentId: string, channel: string | undefined): void;
}

export class Selection {
  agentId: string | undefined;
  channel: string | undefined;

  constructor(
    private readonly store: Store,
    private readonly hooks: SelectionHooks,
  ) {
    window.addEventListener("hashchange", () => {
      const wanted = fromHash();
      if (wanted && (wanted.agent !== this.agentId || wanted.channel !== this.channel)) this.select(wanted.agent, wanted.channel, true);
    });
  }

  /** The selected channel's state, if any. */
  get current(): ChannelState | undefined {
    return this.agentId && this.channel ? this.store.channel(this.agentId, this.channel) : undefined;
  }

  select(agentId: string, channel?: string, fromAddress = false): void {
    if (!this.store.agents.has(agentId)) return;
    const changedAgent = agentId !== this.agentId;
    this.agentId = agentId;
    this.channel = channel ?? (changedAgent || !this.channel ? this.defaultChannel(agentId) : this.channel);
    if (!fromAddress) {
      const tail = this.channel ? "/" + this.channel.split("/").map(encodeURIComponent).join("/") : "";
      history.replaceState(null, "", `#${encodeURIComponent(agentId)}${tail}`);
    }
    this.hooks.changed(agentId, this.channel);
  }

  clear(): void {
    this.agentId = undefined;
    this.channel = undefined;
  }

  /** The first agent with a UI, else the first agent: what a visitor most likely came for. */
  auto(): void {
    if (this.agentId) return;
    const wanted = fromHash();
    if (wanted && this.store.agents.has(wanted.agent)) {
      if (!wanted.channel || this.store.channel(wanted.agent, wanted.channel)) this.select(wanted.agent, wanted.channel, true);
      return;
    }
    const agents = [...this.store.agents.values()].sort((x, y) => x.id.localeCompare(y.id));
    const withUi = agents.find((x) => x.channels.has("ui_state"));
    const pick = withUi ?? agents[0];
    if (pick && (pick.channels.has("tag_values") || pick.channels.size > 2 || withUi)) this.select(pick.id);
  }

  private defaultChannel(agentId: string): string | undefined {
    const names = [...(this.store.agents.get(agentId)?.channels.keys() ?? [])].sort();
    return names.includes("tag_values") ? "tag_values" : names[0];
  }
}

function fromHash(): { agent: string; channel?: string } | undefined {
  const raw = location.hash.slice(1);
  if (!raw) return undefined;
  const [agent, ...rest] = raw.split("/").map((p) => decodeURIComponent(p));
  return agent ? { agent, ...(rest.length ? { channel: rest.join("/") } : {}) } : undefined;
}
