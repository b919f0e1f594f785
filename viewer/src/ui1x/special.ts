// Doover 1.x special elements:
// - `uiMultiPlot`: its series (each a `lookup` tag reference) with their current values; the
//   "Chart all" button puts them on the page's chart, which draws them live.
// - `uiConnectionInfo`: the declared connection pattern and when the page last heard from the
//   agent, marked offline after `offlineAfter` s (periodic) or 60 s (constant) of silence.
// - `uiCameraLiveView` / `uiCameraHistory`: a placeholder with the camera's settings (tagwire
//   carries no video).
// - `uiAlertStream`: points at the notifications panel, where this page shows alerts.
// - anything else: its type and settings, so an unknown element is visible rather than lost.
import { isObject } from "../../../bindings/sdk/json.js";
import { h } from "../dom.js";
import { ago, num } from "../format.js";
import { cssColour, elementBox, numOf, str, type El } from "../ui-parts.js";
import { tagPath } from "./refs.js";
import { labelOf, type ElementContext, type Rendered } from "./context.js";

export function multiplot(ctx: ElementContext, name: string, node: El): Rendered {
  const series = isObject(node.series) ? Object.entries(node.series).filter((e): e is [string, El] => isObject(e[1])) : [];
  const rows = series.map(([key, s]) => {
    const value = h("span", { className: "series-value" });
    const row = h(
      "li",
      { className: "series", "data-series": key },
      h("span", { className: "swatch", style: `background:${cssColour(str(s.colour)) ?? "var(--accent)"}` }),
      h("span", { className: "series-name" }, str(s.displayString) ?? key),
      value,
    );
    return { key, s, row, value };
  });
  const chartable = rows.map((r) => ({ ...r, path: tagPath(r.s.lookup, ctx.appKey) })).filter((r) => r.path !== undefined);
  const chartAll = h("button", { type: "button", className: "btn small" }, "Chart all");
  chartAll.disabled = chartable.length === 0;
  chartAll.addEventListener("click", () => {
    for (const r of chartable) if (!ctx.chart.charted(r.path!)) ctx.chart.toggle(r.path!, str(r.s.displayString) ?? r.key, str(r.s.units));
  });
  const zoom = str(node.defaultZoom);
  const el = elementBox(
    name,
    labelOf(ctx, name, node),
    str(node.helpString),
    h(
      "ul",
      { className: "series-list" },
      rows.map((r) => r.row),
    ),
    h("div", { className: "param-row" }, chartAll, zoom ? h("span", { className: "hint" }, `default zoom ${zoom}`) : null),
  );
  el.classList.add("wide");
  return {
    el,
    update: () => {
      for (const r of rows) {
        const v = ctx.value(r.s.lookup);
        const units = str(r.s.units);
        r.value.textContent =
          v === undefined || v === null ? "–" : typeof v === "number" ? `${num(v)}${units ? ` ${units}` : ""}` : String(v);
      }
    },
  };
}

export function connectionInfo(ctx: ElementContext, name: string, node: El): Rendered {
  const type = str(node.connectionType) ?? "constant";
  const period = numOf(node.connectionPeriod);
  const next = numOf(node.nextConnection);
  const offlineAfterS = numOf(node.offlineAfter) ?? (type === "periodic" && period ? period * 2 : 60);
  const status = h("div", { className: "value text" });
  const seen = h("div", { className: "hint" });
  const facts = [type, period ? `every ${period} s` : "", next ? `next within ${next} s` : "", `offline after ${offlineAfterS} s`]
    .filter(Boolean)
    .join(" · ");
  const el = elementBox(
    name,
    labelOf(ctx, name, node) === name ? "Connection" : labelOf(ctx, name, node),
    undefined,
    status,
    seen,
    h("div", { className: "hint" }, facts),
  );
  const draw = () => {
    const at = ctx.agentSeenAt();
    const online = at > 0 && Date.now() - at < offlineAfterS * 1000;
    status.replaceChildren(h("span", { className: `pill-value conn-${online ? "online" : "offline"}` }, online ? "Online" : "Offline"));
    seen.textContent = at > 0 ? `last heard ${ago(at)}` : "not heard from since the page opened";
  };
  const timer = setInterval(() => (el.isConnected ? draw() : clearInterval(timer)), 5000);
  return { el, update: draw };
}

export function camera(ctx: ElementContext, name: string, node: El): Rendered {
  const live = node.type === "uiCameraLiveView";
  const facts: Array<[string, string]> = [["camera", str(node.cameraName) ?? "?"]];
  if (live) facts.push(["stream", str(node.streamName) ?? "?"]);
  facts.push(["PTZ control", node.ptzControl === true ? "yes" : "no"]);
  const presets = Array.isArray(node.presets) ? node.presets : [];
  facts.push(["presets", presets.length ? presets.map((p) => (typeof p === "string" ? p : JSON.stringify(p))).join(", ") : "none"]);
  if (node.activePreset !== undefined && node.activePreset !== null) facts.push(["active preset", String(node.activePreset)]);
  const el = elementBox(
    name,
    labelOf(ctx, name, node),
    str(node.helpString),
    h(
      "div",
      { className: "camera-placeholder" },
      h("span", { className: "camera-icon", "aria-hidden": "true" }, live ? "◉" : "▤"),
      live ? "Live view not available in this viewer" : "Camera history not available in this viewer",
    ),
    h(
      "dl",
      { className: "facts" },
      facts.flatMap(([k, v]) => [h("dt", null, k), h("dd", null, v)]),
    ),
  );
  return { el, update: () => {} };
}

export function alertStream(_ctx: ElementContext, name: string, _node: El): Rendered {
  const el = elementBox(
    name,
    "Alerts",
    undefined,
    h("div", { className: "hint" }, "This app's alerts and notifications are listed in the Notifications panel."),
  );
  return { el, update: () => {} };
}

export function unknown(ctx: ElementContext, name: string, node: El): Rendered {
  const type = str(node.type) ?? "element";
  const el = elementBox(
    name,
    labelOf(ctx, name, node),
    str(node.helpString),
    h("div", { className: "hint" }, `${type} (not drawn by this viewer)`),
  );
  return { el, update: () => {} };
}
