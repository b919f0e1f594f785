// The tagwire viewer: a page served by the hub that connects back to it over WebSocket with the
// browser build of the client (bindings/client) and runs the wasm core (bindings/core) for the
// publish box's payload check and the chart's rolling statistics.
//
// This file only wires the parts: HubConnection owns the session; Store follows every channel
// the token may read; each view (sidebar, heading, aggregate tree, message log, apps, alerts) is
// marked stale by the Store events that concern it and drawn once in the next frame (Redraw).
import { createCore } from "../../bindings/core/index.js";
import { AppsView, feedsApps } from "./apps.js";
import { LiveChart, type SeriesSource } from "./chart.js";
import { Charting } from "./charting.js";
import { HubConnection, type ConnectionState } from "./connection.js";
import { byId, toast } from "./dom.js";
import { Heading } from "./heading.js";
import { MessageView } from "./messages.js";
import { NotificationFeed, NOTIFICATIONS } from "./notifications.js";
import { PublishBox } from "./publish.js";
import { Redraw } from "./redraw.js";
import { Selection } from "./selection.js";
import { Sidebar } from "./sidebar.js";
import { Store } from "./store.js";
import { TokenDialog } from "./token-dialog.js";
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
  const redraw = new Redraw();
  const tokens = new TokenDialog();
  const charting = new Charting(new LiveChart(byId<HTMLCanvasElement>("chart"), byId("chart-legend"), byId("chart-empty"), core), store);
  const messages = new MessageView(byId("messages"), byId("message-count"));
  const publish = new PublishBox(store, core);
  const feed = new NotificationFeed(byId("notifications"), byId("alerts"), byId("notification-count"), store);

  const selection = new Selection(store, {
    changed: (agentId, channel) => {
      sidebar.setSelection(agentId, channel);
      const ch = selection.current;
      publish.setTarget(ch);
      messages.render(ch, "loading");
      if (ch) {
        store.loadMessages(ch).then(
          () => selection.current === ch && messages.render(ch),
          (error: Error) => selection.current === ch && messages.render(ch, "error", error.message),
        );
      }
      redraw.mark(tree, apps, heading);
    },
  });
  const sidebar = new Sidebar(byId("agents"), byId("agent-count"), byId<HTMLInputElement>("channel-filter"), store, {
    select: (agentId, channel) => selection.select(agentId, channel),
  });

  const connection = new HubConnection({
    session: (session) => {
      if (store.session) {
        // A new token: what the old one could read is not necessarily readable now.
        store.reset();
        feed.reset();
        selection.clear();
        sidebar.setSelection(undefined, undefined);
        publish.setTarget(undefined);
        messages.render(undefined);
        redraw.mark(tree, apps, heading, alerts);
      }
      store.attach(session, connection.claims);
    },
    state: (state, detail) => {
      const pill = byId("conn");
      pill.dataset.state = state;
      pill.title = detail;
      pill.querySelector(".text")!.textContent = STATE_TEXT[state];
      tokens.showIdentity();
      redraw.mark(apps);
    },
    needToken: (reason) => tokens.open(reason),
    error: (error, context) => console.warn(`tagwire viewer: ${context}:`, error),
    subscriptionRefused: ({ agentId, pattern, error }) => {
      console.warn(`tagwire viewer: subscribe ${agentId}/${pattern}:`, error);
      toast(`Not allowed to follow ${agentId}/${pattern}: ${error.message}`, "error");
    },
  });
  tokens.attach(connection);
  const canCommand = () => connection.claims?.role !== "viewer";

  const appsView = new AppsView(byId("apps"), store, {
    charted: (a, c, path) => charting.charted(a, c, path),
    chart: (a, c, path, label, units, precision) => {
      const source: SeriesSource = { agentId: a, channel: c, path, label };
      if (units !== undefined) source.units = units;
      if (precision !== undefined) source.precision = precision;
      charting.toggle(source);
    },
    chartTags: (agentId) => charting.tagHooks(agentId),
    canCommand,
  });
  const treeView = new TreeView(byId("tree"), {
    charted: (path) => !!selection.agentId && !!selection.channel && charting.charted(selection.agentId, selection.channel, path),
    chart: (path) => {
      const { agentId, channel } = selection;
      if (agentId && channel) charting.toggle({ agentId, channel, path, label: path[path.length - 1] ?? channel });
    },
  });

  // Draw order: what a change of structure selects first, then what depends on the selection.
  const structure = redraw.add({
    render: () => {
      selection.auto();
      sidebar.render();
    },
  });
  const tree = redraw.add({ render: () => treeView.render(selection.current) });
  const apps = redraw.add({
    render: () => {
      const agentId = selection.agentId;
      appsView.render(agentId);
      if (agentId) charting.autoStart(() => appsView.firstSeries(agentId));
    },
  });
  const alerts = redraw.add({ render: () => feed.renderAlerts() });
  const heading = redraw.add(new Heading(store, selection));
  charting.chart.onChange = () => redraw.mark(tree, apps);
  setInterval(() => redraw.mark(heading), 5000);

  store.listen({
    structure: () => redraw.mark(structure),
    channel: (ch) => {
      sidebar.changed(ch);
      charting.chart.sample(ch);
      if (ch.agentId === selection.agentId && ch.channel === selection.channel) redraw.mark(tree, heading);
      if (ch.agentId === selection.agentId && feedsApps(ch)) redraw.mark(apps);
      if (ch.channel === NOTIFICATIONS) {
        redraw.mark(alerts);
        if (ch.messages === undefined) void feed.discovered(ch);
      }
      if (!selection.agentId) redraw.mark(structure);
    },
    message: (ch, message, live) => {
      if (ch.agentId === selection.agentId && ch.channel === selection.channel && live) messages.add(ch, message);
      if (ch.channel === NOTIFICATIONS) feed.add(ch, message, live);
    },
  });

  connection.start();
  redraw.mark(heading, tree);
}

main().catch((error: unknown) => {
  console.error(error);
  const box = document.getElementById("main");
  if (box)
    box.prepend(
      Object.assign(document.createElement("p"), { className: "empty", textContent: `The viewer failed to start: ${String(error)}` }),
    );
});
