// The headings above the apps and the channel: which agent (channels, last update) and which
// channel (version, last change).
import { byId } from "./dom.js";
import { ago, clock } from "./format.js";
import type { Selection } from "./selection.js";
import type { Store } from "./store.js";

export class Heading {
  constructor(
    private readonly store: Store,
    private readonly selection: Selection,
  ) {}

  render(): void {
    const { agentId } = this.selection;
    const ch = this.selection.current;
    const agent = agentId ? this.store.agents.get(agentId) : undefined;
    byId("agent-title").textContent = agent ? agent.id : this.store.agents.size ? "Select an agent" : "Waiting for agents…";
    const channels = agent ? `${agent.channels.size} channel${agent.channels.size === 1 ? "" : "s"}` : "";
    byId("agent-meta").textContent = agent
      ? `${channels} · ${agent.updatedAt ? `last update ${ago(agent.updatedAt)}` : "no update since the page opened"}`
      : "";
    const title = byId("channel-title");
    title.replaceChildren();
    if (ch) {
      const code = document.createElement("code");
      code.textContent = ch.key;
      title.append(code);
    } else title.textContent = "Channel";
    byId("channel-version").textContent = ch ? (ch.version ? `version ${ch.version}` : "no aggregate") : "";
    byId("channel-version").hidden = !ch;
    byId("channel-updated").textContent = ch?.updatedAt ? `updated ${clock(ch.updatedAt)}` : "";
  }
}
