// Doover 1.x containers: `uiContainer` (a plain group), `uiSubmodule` (a group that folds, with a
// status line; `defaultOpen` may be a tag reference, followed until the user folds it by hand),
// `uiTabs` (TabContainer: one tab per visible child, `defaultPage` an index into them by
// position) and `uiRemoteComponent` (a container whose own drawing is a script at
// `componentUrl`: the page's CSP loads no foreign script, so its settings and children are shown).
import { h } from "../dom.js";
import { mergeActions, numOf, str, type El } from "../ui-parts.js";
import { labelOf, type ElementContext, type Rendered } from "./context.js";

export const CONTAINER_TYPES = new Set(["uiContainer", "uiSubmodule", "uiTabs", "uiRemoteComponent", "uiApplication"]);

/** A grid of the container's children; nested containers take a whole row. */
export function groupBody(ctx: ElementContext, node: El): { el: HTMLElement; children: Rendered[] } {
  const children = ctx.children(node);
  const el = h("div", { className: "group-body" });
  for (const r of children) {
    if (r.el.classList.contains("group") || r.el.classList.contains("tabs")) r.el.style.gridColumn = "1 / -1";
    el.append(r.el);
  }
  mergeActions(el);
  return { el, children };
}

export function container(ctx: ElementContext, name: string, node: El): Rendered {
  const body = groupBody(ctx, node);
  const el = h(
    "div",
    { className: "group", "data-element": name },
    h("div", { className: "group-head" }, labelOf(ctx, name, node)),
    body.el,
  );
  return { el, update: () => {} };
}

export function submodule(ctx: ElementContext, name: string, node: El): Rendered {
  const status = h("span", { className: "status" });
  const body = groupBody(ctx, node);
  const summary = h("summary", { className: "group-head" }, labelOf(ctx, name, node), status);
  const details = h("details", { className: "group submodule", "data-element": name }, summary, body.el);
  let byHand = false;
  // The summary's click (mouse or keyboard), not the `toggle` event: toggle events are queued
  // and coalesced, so one from the user's click can arrive after an update has already set
  // `open` back from the tag, merged with that update's own, and the user's fold is lost.
  summary.addEventListener("click", () => {
    byHand = true;
  });
  return {
    el: details,
    update: () => {
      status.textContent = str(ctx.value(node.statusString)) ?? "";
      if (byHand) return;
      const open = ctx.value(node.defaultOpen) !== false;
      if (details.open !== open) details.open = open;
    },
  };
}

export function tabs(ctx: ElementContext, name: string, node: El): Rendered {
  const children = ctx.children(node);
  const bar = h("div", { className: "tab-bar", role: "tablist" });
  const panels = h("div", { className: "tab-panels" });
  const buttons: HTMLButtonElement[] = [];
  const show = (i: number) => {
    for (const [j, b] of buttons.entries()) b.setAttribute("aria-selected", j === i ? "true" : "false");
    for (const [j, c] of children.entries()) if (c.el.parentElement) c.el.parentElement.hidden = j !== i;
  };
  children.forEach((child, i) => {
    const title = child.el.querySelector(".group-head")?.firstChild?.textContent ?? child.el.dataset.element ?? `Tab ${i + 1}`;
    const b = h("button", { type: "button", className: "tab", role: "tab", "data-tab": child.el.dataset.element ?? String(i) }, title);
    b.addEventListener("click", () => show(i));
    buttons.push(b);
    bar.append(b);
    // A tab shows its child's content, not the child's own fold or head.
    child.el.classList.add("in-tab");
    if (child.el instanceof HTMLDetailsElement) child.el.open = true;
    panels.append(h("div", { className: "tab-panel", role: "tabpanel" }, child.el));
  });
  const el = h(
    "div",
    { className: "group tabs", "data-element": name },
    h("div", { className: "group-head" }, labelOf(ctx, name, node)),
    bar,
    panels,
  );
  show(Math.min(Math.max(0, numOf(ctx.value(node.defaultPage)) ?? 0), Math.max(0, children.length - 1)));
  return {
    el,
    update: () => {
      for (const c of children) if (c.el instanceof HTMLDetailsElement) c.el.open = true;
    },
  };
}

export function remoteComponent(ctx: ElementContext, name: string, node: El): Rendered {
  const body = groupBody(ctx, node);
  const url = str(node.componentUrl) ?? "";
  const note = h(
    "div",
    { className: "hint remote-note" },
    "Remote component ",
    h("code", null, url),
    " (not loaded: this page runs no script from another origin)",
  );
  const el = h(
    "div",
    { className: "group", "data-element": name },
    h("div", { className: "group-head" }, labelOf(ctx, name, node)),
    h("div", { className: "group-body" }, note),
    body.el,
  );
  note.style.gridColumn = "1 / -1";
  note.parentElement!.style.paddingBottom = "0";
  return { el, update: () => {} };
}
