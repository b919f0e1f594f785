// Doover 1.x variables: `uiVariable` (varType float, string, bool or time) and `uiTimestamp`.
// Their `currentValue` is normally a `$tag.app()` reference; a literal is shown as it is.
// Numbers show units and precision, a bar for their ranges (limits may be references too) and
// can be charted when bound to a tag. Times: pydoover's DateTimeVariable carries no unit, so a
// number below 1e11 is taken as epoch seconds and above as milliseconds; Timestamp values are
// epoch milliseconds (Timestamp.to_dict) and are shown relative to now, refreshed every second
// with `precision: "second"`, else every minute.
import { isObject } from "../../../bindings/sdk/json.js";
import { chartIcon, h } from "../dom.js";
import { num } from "../format.js";
import { elementBox, flash, numOf, rangeBar, str, type El, type RangeSpec } from "../ui-parts.js";
import { tagPath } from "./refs.js";
import { labelOf, type ElementContext, type Rendered } from "./context.js";

export function variable(ctx: ElementContext, name: string, node: El): Rendered {
  const varType = str(node.varType) ?? "float";
  const precision = numOf(node.decPrecision);
  const units = str(node.units);
  const label = labelOf(ctx, name, node);
  const value = h("div", { className: `value${varType === "string" || varType === "time" ? " text" : ""}` });
  const content: HTMLElement[] = [value];
  const ranges: RangeSpec[] = (Array.isArray(node.ranges) ? node.ranges.filter(isObject) : []).map((r) => ({
    min: numOf(ctx.value(r.min)),
    max: numOf(ctx.value(r.max)),
    colour: str(ctx.value(r.colour)),
    label: str(ctx.value(r.label)),
  }));
  const bar = varType === "float" ? rangeBar(ranges) : undefined;
  if (bar) content.push(...bar.els);
  const thresholds = Array.isArray(node.thresholds) ? node.thresholds.filter(isObject) : [];
  if (thresholds.length) {
    const text = thresholds
      .map((t) => `${str(ctx.value(t.label)) ?? ""} ${num(numOf(ctx.value(t.value)) ?? NaN)}${units ?? ""}`.trim())
      .join(" · ");
    content.push(h("div", { className: "hint" }, `thresholds: ${text}`));
  }
  const el = elementBox(name, label, str(node.helpString), ...content);
  const path = varType === "float" && node.notGraphable !== true ? tagPath(node.currentValue, ctx.appKey) : undefined;
  if (path) {
    const btn = h("button", {
      type: "button",
      className: `icon-btn${ctx.chart.charted(path) ? " on" : ""}`,
      title: "Chart this value",
      "aria-label": `Chart ${label}`,
    });
    btn.append(chartIcon());
    btn.addEventListener("click", () => {
      ctx.chart.toggle(path, label, units, precision);
      btn.classList.toggle("on", ctx.chart.charted(path));
    });
    el.firstElementChild!.append(btn);
  }
  let last: string | undefined;
  return {
    el,
    update: () => {
      const v = ctx.value(node.currentValue);
      let text: string;
      if (v === undefined || v === null) text = "–";
      else if (varType === "bool") text = v ? "Yes" : "No";
      else if (varType === "time" && typeof v === "number") text = v === 0 ? "never" : new Date(v < 1e11 ? v * 1000 : v).toLocaleString();
      else if (typeof v === "number") text = num(v, precision);
      else text = typeof v === "object" ? JSON.stringify(v) : String(v);
      if (text === last) return; // most updates are of other tags: leave the DOM alone
      value.replaceChildren();
      if (varType === "string" && typeof v === "string") value.append(h("span", { className: "pill-value" }, text));
      else if (varType === "bool" && typeof v === "boolean") value.append(h("span", { className: `pill-value bool-${v}` }, text));
      else value.append(text);
      if (units && typeof v === "number") value.append(h("span", { className: "unit" }, units));
      if (last !== undefined && last !== text) flash(value);
      last = text;
      if (bar && typeof v === "number") bar.place(v);
    },
  };
}

export function timestamp(ctx: ElementContext, name: string, node: El): Rendered {
  const value = h("div", { className: "value text" });
  const absolute = h("div", { className: "hint" });
  const el = elementBox(name, labelOf(ctx, name, node), str(node.helpString), value, absolute);
  const everyMs = node.precision === "second" ? 1000 : 60_000;
  let at: number | undefined;
  const draw = () => {
    value.textContent = at === undefined ? "–" : relative(at, Date.now(), everyMs === 1000);
  };
  // Ticks only while the element is on the page.
  const timer = setInterval(() => (el.isConnected ? draw() : clearInterval(timer)), everyMs);
  return {
    el,
    update: () => {
      const v = ctx.value(node.currentValue);
      at = typeof v === "number" && v > 0 ? v : undefined;
      absolute.textContent = at === undefined ? "not set" : new Date(at).toLocaleString();
      draw();
    },
  };
}

/** "in 3 min 20 s", "12 s ago", "in 2 h": seconds shown only at second precision. */
function relative(at: number, now: number, seconds: boolean): string {
  const d = Math.round((at - now) / 1000);
  const a = Math.abs(d);
  let text: string;
  if (a < 60) text = seconds ? `${a} s` : "under a minute";
  else if (a < 3600) text = `${Math.floor(a / 60)} min${seconds ? ` ${a % 60} s` : ""}`;
  else if (a < 86400) text = `${Math.floor(a / 3600)} h ${Math.floor((a % 3600) / 60)} min`;
  else text = `${Math.floor(a / 86400)} d ${Math.floor((a % 86400) / 3600)} h`;
  if (!seconds && a < 60) return d >= 0 ? "within a minute" : "just now";
  return d >= 0 ? `in ${text}` : `${text} ago`;
}
