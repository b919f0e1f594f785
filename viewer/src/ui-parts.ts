// Pieces both generations of app UI draw the same way (0.4 in app-ui.ts, 1.x in ui1x/): the
// element box, Doover's colour names, the coloured range bar under a number, the row of buttons.
import { isObject, type JsonObject } from "../../bindings/sdk/json.js";
import type { Json } from "../../bindings/sdk/session.js";
import { h } from "./dom.js";
import { num } from "./format.js";

/** An element of a UI tree (a JSON object). */
export type El = JsonObject;
export const str = (v: Json | undefined): string | undefined => (typeof v === "string" ? v : undefined);
export const numOf = (v: Json | undefined): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

/** Doover's colour names (pydoover's Colour) as CSS colours; anything else is passed through. */
const COLOURS: Record<string, string> = {
  blue: "#2563eb",
  green: "#16a34a",
  red: "#dc2626",
  yellow: "#ca8a04",
  orange: "#ea580c",
  purple: "#7c3aed",
  grey: "#6b7280",
  gray: "#6b7280",
  magenta: "#c026d3",
  limegreen: "#65a30d",
  tomato: "#ef4444",
};

export function cssColour(name: string | undefined): string | undefined {
  return name ? (COLOURS[name] ?? name) : undefined;
}

/** The children of a container that are not hidden, by position. */
export function sortedChildren(element: El, hidden: (child: El) => boolean = (c) => c.hidden === true): Array<[string, El]> {
  const children = isObject(element.children) ? element.children : {};
  return Object.entries(children)
    .filter((e): e is [string, El] => isObject(e[1]) && !hidden(e[1]))
    .sort((a, b) => (numOf(a[1].position) ?? 1e9) - (numOf(b[1].position) ?? 1e9));
}

/** The box every element is drawn in: a label, then its content. */
export function elementBox(name: string, label: string, help: string | undefined, ...content: HTMLElement[]): HTMLElement {
  return h(
    "div",
    { className: "element", "data-element": name, title: help ?? false },
    h("div", { className: "label" }, label),
    ...content,
  );
}

export interface RangeSpec {
  min: number | undefined;
  max: number | undefined;
  colour: string | undefined;
  label: string | undefined;
}

/** A bar of coloured ranges with a marker for the value; undefined when the ranges are unusable. */
export function rangeBar(ranges: RangeSpec[]): { els: HTMLElement[]; place(value: number): void } | undefined {
  if (ranges.length === 0) return undefined;
  const lo = Math.min(...ranges.map((r) => r.min ?? Infinity));
  const hi = Math.max(...ranges.map((r) => r.max ?? -Infinity));
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || hi <= lo) return undefined;
  const bar = h("div", { className: "range-bar", role: "presentation" });
  for (const r of ranges) {
    const a = r.min ?? lo;
    const b = r.max ?? hi;
    const seg = h("div", { className: "seg", title: `${r.label ?? ""} ${a}–${b}`.trim() });
    seg.style.width = `${((b - a) / (hi - lo)) * 100}%`;
    seg.style.background = cssColour(r.colour) ?? "#2563eb";
    bar.append(seg);
  }
  const marker = h("div", { className: "marker" });
  bar.append(marker);
  return {
    els: [bar, h("div", { className: "range-labels" }, h("span", null, num(lo)), h("span", null, num(hi)))],
    place: (value) => {
      marker.style.left = `${Math.min(100, Math.max(0, ((value - lo) / (hi - lo)) * 100))}%`;
    },
  };
}

/** Restarts the "just changed" flash of a value. */
export function flash(el: HTMLElement): void {
  el.classList.remove("changed");
  void el.offsetWidth;
  el.classList.add("changed");
}

/** Buttons of consecutive actions share one cell, stacked, instead of a cell each. */
export function mergeActions(container: HTMLElement): void {
  let cell: Element | undefined;
  for (const child of [...container.children]) {
    if (!child.classList.contains("actions")) {
      cell = undefined;
      continue;
    }
    if (!cell) {
      cell = child;
      continue;
    }
    cell.append(...child.children);
    child.remove();
  }
}
