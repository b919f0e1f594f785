// The tagwire viewer: a page served by the hub that connects back to it over WebSocket with the
// browser build of the client (bindings/client) and runs the wasm core (bindings/core) for the
// publish box's payload check and the chart's rolling statistics.
//
// Data flow: HubConnection owns the session; Store follows every channel the token may read;
// views listen to the Store and redraw on the next animation frame (several events in one frame
// cost one redraw).
import { createCore } from "../../bindings/core/index.js";
import { AppUiView } from "./app-ui.js";
import { LiveChart, seriesKey, type SeriesSource } from "./chart.js";
import { HubConnection, type ConnectionState } from "./connection.js";
import { byId, toast } from "./dom.js";
import { ago, clock } from "./format.js";
import { MessageView } from "./messages.js";
import { NotificationFeed, NOTIFICATIONS } from "./notifications.js";
import { PublishBox } from "./publish.js";
import { Sidebar } from "./sidebar.js";
import { Store, valueAt, type ChannelState } from "./store.js";
import { TreeView } from "./tree.js";

const STATE_TEXT: Record<ConnectionState, string> = {
  connecting: "Connecting…",
  online: "Connected",
  reconnecting: "Reconnecting…",
  auth: "Token required",
  closed: "Disconnected",
};

async function main(): Promise<void> {
  byId("hub-url").textContent = location.host;
  const core = await createCore();
  const store = new Store();

  let agentId: string | undefined;
  let channel: string | undefined;
  const selected = (): ChannelState | undefined => (agentId && channel ? store.channel(agentId, channel) : undefined);

  const chart = new LiveChart(byId<HTMLCanvasElement>("chart"), byId("chart-legend"), byId("chart-empty"), core);
  const chartToggle = (source: SeriesSource) => {
    const ch = store.channel(source.agentId, source.channel);
    const session = store.session;
    const history =
      ch && session
        ? () => session.getMessages(source.agentId, source.channel, { after: Date.now() - 15 * 60_000, limit: 1000 })
        : undefined;
    if (!chart.toggle(source, history)) {
      toast("The chart shows four series at most: remove one first", "error");
      return;
    }
    if (ch) chart.prime(seriesKey(source.agentId, source.channel, source.path), ch.aggregate, ch.version);
  };
  chart.onChange = () => dirty("tree", "apps");
  for (const button of byId("chart-window").querySelectorAll<HTMLButtonElement>("button")) {
    button.addEventListener("click", () => {
      for (const b of byId("chart-window").querySelectorAll("button")) b.classList.toggle("active", b === button);
      chart.setWindow(Number(button.dataset.ms));
    });
  }

  const tree = new TreeView(byId("tree"), {
    charted: (path) => !!agentId && !!channel && chart.has(seriesKey(agentId, channel, path)),
    chart: (path) => {
      if (agentId && channel) chartToggle({ agentId, channel, path, label: path[path.length - 1] ?? channel });
    },
  });
  const messages = new MessageView(byId("messages"), byId("message-count"));
  const publish = new PublishBox(store, core);
  const feed = new NotificationFeed(byId("notifications"), byId("alerts"), byId("notification-count"), store);

  const connection = new HubConnection({
    session: (session) => {
      if (store.session) {
        // A new token: what the old one could read is not necessarily readable now.
        store.reset();
        feed.reset();
        agentId = undefined;
        channel = undefined;
        sidebar.setSelection(undefined, undefined);
        publish.setTarget(undefined);
        messages.render(undefined);
        dirty("tree", "apps", "head", "alerts");
      }
      store.attach(session, connection.claims);
    },
    state: (state, detail) => {
      const pill = byId("conn");
      pill.dataset.state = state;
      pill.title = detail;
      pill.querySelector(".text")!.textContent = STATE_TEXT[state];
      showIdentity();
      dirty("apps");
    },
    needToken: (reason) => openTokenDialog(reason),
    error: (error, context) => console.warn(`tagwire viewer: ${context}:`, error),
    subscriptionRefused: ({ agentId, pattern, error }) => {
      console.warn(`tagwire viewer: subscribe ${agentId}/${pattern}:`, error);
      toast(`Not allowed to follow ${agentId}/${pattern}: ${error.message}`, "error");
    },
  });
  const canCommand = () => !connection.claims || connection.claims.role !== "viewer";

  const apps = new AppUiView(byId("apps"), store, {
    charted: (a, c, path) => chart.has(seriesKey(a, c, path)),
    chart: (a, c, path, label, units, precision) => {
      const source: SeriesSource = { agentId: a, channel: c, path, label };
      if (units !== undefined) source.units = units;
      if (precision !== undefined) source.precision = precision;
      chartToggle(source);
    },
    canCommand,
  });

  const sidebar = new Sidebar(byId("agents"), byId("agent-count"), byId<HTMLInputElement>("channel-filter"), store, {
    select: (a, c) => select(a, c),
  });

  // ---- selection --------------------------------------------------------------------------
  let autoCharted = false;

  function select(a: string, c?: string, fromHash = false): void {
    const agent = store.agents.get(a);
    if (!agent) return;
    const changedAgent = a !== agentId;
    agentId = a;
    channel = c ?? (changedAgent || !channel ? defaultChannel(a) : channel);
    if (!fromHash) history.replaceState(null, "", `#${encodeURIComponent(a)}${channel ? "/" + channel.split("/").map(encodeURIComponent).join("/") : ""}`);
    sidebar.setSelection(agentId, channel);
    const ch = selected();
    publish.setTarget(ch);
    messages.render(ch, "loading");
    if (ch) {
      store.loadMessages(ch).then(
        () => {
          if (selected() === ch) messages.render(ch);
        },
        (error: Error) => {
          if (selected() === ch) messages.render(ch, "error", error.message);
        },
      );
    }
    dirty("tree", "apps", "head");
  }

  function defaultChannel(a: string): string | undefined {
    const names = [...(store.agents.get(a)?.channels.keys() ?? [])].sort();
    return names.includes("tag_values") ? "tag_values" : names[0];
  }

  function fromHash(): { agent: string; channel?: string } | undefined {
    const raw = location.hash.slice(1);
    if (!raw) return undefined;
    const [agent, ...rest] = raw.split("/").map((p) => decodeURIComponent(p));
    return agent ? { agent, ...(rest.length ? { channel: rest.join("/") } : {}) } : undefined;
  }

  /** The first agent with a UI, else the first agent: what a visitor most likely came for. */
  function autoSelect(): void {
    if (agentId) return;
    const wanted = fromHash();
    if (wanted && store.agents.has(wanted.agent)) {
      if (!wanted.channel || store.channel(wanted.agent, wanted.channel)) select(wanted.agent, wanted.channel, true);
      return;
    }
    const agents = [...store.agents.values()].sort((x, y) => x.id.localeCompare(y.id));
    const withUi = agents.find((x) => x.channels.has("ui_state"));
    const pick = withUi ?? agents[0];
    if (pick && (pick.channels.has("tag_values") || pick.channels.size > 2 || withUi)) select(pick.id);
  }

  /** On first sight of an app UI: chart its first numeric variable, so the chart is not empty. */
  function autoChart(): void {
    if (autoCharted || chart.series.size > 0 || !agentId) return;
    const ui = store.channel(agentId, "ui_state");
    const apps = valueAt(ui?.aggregate, ["state", "children"]);
    if (!apps || typeof apps !== "object" || Array.isArray(apps)) return;
    for (const [appKey, app] of Object.entries(apps)) {
      const found = firstNumber(app, ["state", "children", appKey]);
      if (found) {
        autoCharted = true;
        chartToggle({ agentId, channel: "ui_state", ...found });
        return;
      }
    }
  }

  // ---- rendering --------------------------------------------------------------------------
  const pending = new Set<string>();
  let frame = 0;
  function dirty(...parts: string[]): void {
    for (const p of parts) pending.add(p);
    if (!frame) frame = requestAnimationFrame(flush);
  }

  function flush(): void {
    frame = 0;
    const parts = new Set(pending);
    pending.clear();
    if (parts.has("structure")) {
      autoSelect();
      sidebar.render();
    }
    const ch = selected();
    if (parts.has("tree")) tree.render(ch);
    if (parts.has("apps")) {
      apps.render(agentId);
      autoChart();
    }
    if (parts.has("alerts")) feed.renderAlerts();
    if (parts.has("head") || parts.has("tree")) renderHeads(ch);
  }

  function renderHeads(ch: ChannelState | undefined): void {
    const agent = agentId ? store.agents.get(agentId) : undefined;
    byId("agent-title").textContent = agent ? agent.id : store.agents.size ? "Select an agent" : "Waiting for agents…";
    byId("agent-meta").textContent = agent ? `${agent.channels.size} channel${agent.channels.size === 1 ? "" : "s"} · ${agent.updatedAt ? `last update ${ago(agent.updatedAt)}` : "no update since the page opened"}` : "";
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
  setInterval(() => dirty("head"), 5000);

  store.listen({
    structure: () => dirty("structure"),
    channel: (ch) => {
      sidebar.changed(ch);
      chart.sample(ch);
      if (ch.agentId === agentId && ch.channel === channel) dirty("tree");
      if (ch.agentId === agentId && (ch.channel === "ui_state" || ch.channel === "ui_cmds")) dirty("apps");
      if (ch.channel === NOTIFICATIONS) {
        dirty("alerts");
        if (ch.messages === undefined) void feed.discovered(ch);
      }
      if (!agentId) dirty("structure");
    },
    message: (ch, message, live) => {
      if (ch.agentId === agentId && ch.channel === channel && live) messages.add(ch, message);
      if (ch.channel === NOTIFICATIONS) feed.add(ch, message, live);
    },
  });

  // ---- token ------------------------------------------------------------------------------
  const dialog = byId<HTMLDialogElement>("token-dialog");
  const input = byId<HTMLInputElement>("token-input");
  function openTokenDialog(reason: string): void {
    byId("token-reason").textContent = reason;
    input.value = "";
    if (!dialog.open) dialog.showModal();
    input.focus();
  }
  byId("token-button").addEventListener("click", () =>
    openTokenDialog(connection.claims ? `Connected as ${connection.claims.agentId} (${connection.claims.role}). Paste another token to switch.` : "Paste a token for this hub."),
  );
  byId("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    dialog.close();
    connection.useToken(token);
  });
  byId("token-cancel").addEventListener("click", () => dialog.close());
  byId("token-clear").addEventListener("click", () => {
    dialog.close();
    connection.useToken(undefined);
    toast("Token forgotten");
  });

  function showIdentity(): void {
    const el = byId("identity");
    const c = connection.claims;
    el.hidden = !c;
    el.replaceChildren();
    if (c) {
      const b = document.createElement("b");
      b.textContent = c.agentId;
      el.append(b, ` · ${c.role}`);
    }
  }

  window.addEventListener("hashchange", () => {
    const wanted = fromHash();
    if (wanted && (wanted.agent !== agentId || wanted.channel !== channel)) select(wanted.agent, wanted.channel, true);
  });

  connection.start();
  dirty("head", "tree");
}

/** The first numeric variable below `node` (depth first, by position), as a chart source. */
function firstNumber(node: unknown, path: string[]): { path: string[]; label: string; units?: string; precision?: number } | undefined {
  if (!node || typeof node !== "object") return undefined;
  const n = node as Record<string, unknown>;
  if (n.type === "uiVariable" && n.varType === "float" && typeof n.currentValue === "number") {
    const found: { path: string[]; label: string; units?: string; precision?: number } = { path: [...path, "currentValue"], label: typeof n.displayString === "string" ? n.displayString : String(n.name) };
    if (typeof n.units === "string") found.units = n.units;
    if (typeof n.decPrecision === "number") found.precision = n.decPrecision;
    return found;
  }
  const children = n.children && typeof n.children === "object" ? Object.entries(n.children as Record<string, Record<string, unknown>>) : [];
  children.sort((a, b) => (Number(a[1]?.position) || 1e9) - (Number(b[1]?.position) || 1e9));
  for (const [name, child] of children) {
    const found = firstNumber(child, [...path, "children", name]);
    if (found) return found;
  }
  return undefined;
}

main().catch((error: unknown) => {
  console.error(error);
  const box = document.getElementById("main");
  if (box) box.prepend(Object.assign(document.createElement("p"), { className: "empty", textContent: `The viewer failed to start: ${String(error)}` }));
});
