// Doover 1.x interactions. Each shows its current value from `$cmds.app().<name>` (with the
// default the reference carries) and sends a command through `ctx.send` (ui1x/commands.ts says
// what reaches the app). A control shows as busy after sending until the app replies (an error
// reply is shown), the value it reads changes (the app accepted it and wrote ui_cmds), or
// `commandTimeout` ms (10 s when unset) pass.
import { isObject } from "../../../bindings/sdk/json.js";
import type { Json } from "../../../bindings/sdk/session.js";
import { confirmDialog, h, toast } from "../dom.js";
import { cssColour, elementBox, numOf, str, type El } from "../ui-parts.js";
import { labelOf, type ElementContext, type Rendered } from "./context.js";

const DEFAULT_WAIT_MS = 10_000;

/** Busy state of a control: on from a send until its value changes or the wait runs out. */
function busyTracker(ctx: ElementContext, node: El, target: HTMLElement) {
  let sentFrom: string | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const done = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    sentFrom = undefined;
    target.classList.remove("busy");
  };
  return {
    async send(value: Json): Promise<boolean> {
      sentFrom = JSON.stringify(ctx.value(node.currentValue) ?? null);
      target.classList.add("busy");
      const ok = await ctx.send(node, value, (reply) => {
        done();
        if (!reply.ok) toast(`${labelOf(ctx, str(node.name) ?? "", node)}: ${reply.error}`, "error");
      });
      if (!ok || node.direct === true) {
        done();
        return ok;
      }
      if (timer) clearTimeout(timer);
      timer = setTimeout(done, numOf(node.commandTimeout) ?? DEFAULT_WAIT_MS);
      return ok;
    },
    /** Called from update(): the value moved since the send, so the app took it. */
    check(): void {
      if (sentFrom !== undefined && JSON.stringify(ctx.value(node.currentValue) ?? null) !== sentFrom) done();
    },
  };
}

/** Asks first when the element says so (`requiresConfirm`: true or a ConfirmDialog object). */
async function confirmed(ctx: ElementContext, name: string, node: El, what: string): Promise<boolean> {
  const rc = node.requiresConfirm;
  if (rc !== true && !isObject(rc)) return true;
  const label = labelOf(ctx, name, node);
  const title = (isObject(rc) && str(rc.title)) || `Confirm ${label} change`;
  const text = [
    isObject(rc) ? str(rc.subtitle) : undefined,
    isObject(rc) ? str(rc.warningReason) : undefined,
    isObject(rc) ? str(rc.helpText) : undefined,
    `Send “${what}” to ${ctx.agentId}?`,
  ]
    .filter(Boolean)
    .join(" ");
  return confirmDialog(title, text, label);
}

const enabled = (ctx: ElementContext, node: El) =>
  ctx.value(node.isAvailable) !== false && ctx.value(node.disabled) !== true && ctx.canCommand();

export function button(ctx: ElementContext, name: string, node: El): Rendered {
  const label = labelOf(ctx, name, node);
  const btn = h("button", { type: "button", className: "btn action-btn", "data-action": name }, str(node.labelString) ?? label);
  const busy = busyTracker(ctx, node, btn);
  btn.addEventListener("click", async () => {
    if (!(await confirmed(ctx, name, node, label))) return;
    await busy.send(true);
  });
  const el = elementBox(name, label, str(node.helpString), btn);
  el.classList.add("actions");
  el.querySelector(".label")!.remove();
  return {
    el,
    update: () => {
      const colour = cssColour(str(ctx.value(node.colour)));
      if (colour) {
        btn.dataset.colour = "1";
        btn.style.background = colour;
      }
      btn.disabled = !enabled(ctx, node);
      busy.check();
    },
  };
}

type InputKind = "float" | "text" | "datetime" | "time";

/** FloatInput, TextInput, DatetimeInput and TimeInput: a field and a Set button. */
export function input(kind: InputKind) {
  return (ctx: ElementContext, name: string, node: El): Rendered => {
    const label = labelOf(ctx, name, node);
    const pickers = Array.isArray(node.pickers) ? node.pickers : ["date", "time"];
    const dateType = pickers.includes("date") ? (pickers.includes("time") ? "datetime-local" : "date") : "time";
    const area = kind === "text" && node.isTextArea === true;
    const field = (
      area
        ? h("textarea", { className: "input", rows: 2 })
        : h("input", {
            className: "input",
            type: kind === "float" ? "number" : kind === "datetime" ? dateType : kind === "time" ? "time" : "text",
            step: kind === "float" ? "any" : false,
          })
    ) as HTMLInputElement;
    const min = numOf(ctx.value(node.min));
    const max = numOf(ctx.value(node.max));
    if (kind === "float" && min !== undefined) field.min = String(min);
    if (kind === "float" && max !== undefined) field.max = String(max);
    const bounds = kind === "datetime" && dateType !== "time" ? dateBounds(node) : undefined;
    field.setAttribute("aria-label", label);
    const set = h("button", { type: "submit", className: "btn" }, "Set");
    const hint = h("div", { className: "hint" });
    // The page checks limits itself (with a message saying which), not the browser's bubble.
    const form = h("form", { className: "param-row", novalidate: true }, field, set);
    const busy = busyTracker(ctx, node, set);
    const units = str(node.units);
    let dirty = false;
    field.addEventListener("input", () => (dirty = true));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const value = parseInput(kind, field.value, dateType);
      if (value === undefined) return toast(`${label}: ${kind === "float" ? "enter a number" : "enter a value"}`, "error");
      if (typeof value === "number" && kind === "float" && ((min !== undefined && value < min) || (max !== undefined && value > max))) {
        return toast(`${label}: between ${min ?? "−∞"} and ${max ?? "∞"}`, "error");
      }
      if (
        typeof value === "number" &&
        bounds &&
        ((bounds.min !== undefined && value < bounds.min) || (bounds.max !== undefined && value > bounds.max))
      ) {
        return toast(`${label}: ${bounds.text}`, "error");
      }
      if (!(await confirmed(ctx, name, node, showValue(kind, value, dateType)))) return;
      if (await busy.send(value)) dirty = false;
    });
    const el = elementBox(name, label, str(node.helpString), form, hint);
    return {
      el,
      update: () => {
        const current = ctx.value(node.currentValue);
        const on = enabled(ctx, node);
        field.disabled = !on;
        set.disabled = !on;
        const range = kind === "float" && (min !== undefined || max !== undefined) ? ` · ${min ?? "−∞"} to ${max ?? "∞"}` : "";
        hint.textContent =
          current === undefined || current === null
            ? `not set${range}`
            : `current ${showValue(kind, current, dateType)}${kind === "float" && units ? ` ${units}` : ""}${range}`;
        if (!dirty && document.activeElement !== field) field.value = toField(kind, current, dateType);
        if (bounds) {
          // Relative to now, so kept current as time passes.
          const b = dateBounds(node);
          field.min = b.min === undefined ? "" : toField(kind, b.min, dateType);
          field.max = b.max === undefined ? "" : toField(kind, b.max, dateType);
        }
        busy.check();
      },
    };
  };
}

/** DatetimeInput limits relative to now: `direction` past/future, `maxPast`/`maxFuture` in ms. */
function dateBounds(node: El, now = Date.now()): { min?: number; max?: number; text: string } {
  const b: { min?: number; max?: number; text: string } = { text: "" };
  const maxPast = numOf(node.maxPast);
  const maxFuture = numOf(node.maxFuture);
  if (node.direction === "future") b.min = now;
  if (node.direction === "past") b.max = now;
  if (maxPast !== undefined) b.min = now - maxPast;
  if (maxFuture !== undefined) b.max = now + maxFuture;
  const show = (t: number) => new Date(t).toLocaleString();
  b.text =
    b.min !== undefined && b.max !== undefined
      ? `between ${show(b.min)} and ${show(b.max)}`
      : b.min !== undefined
        ? `after ${show(b.min)}`
        : b.max !== undefined
          ? `before ${show(b.max)}`
          : "";
  return b;
}

/** The command value of a field's text, or undefined when it is not valid. */
function parseInput(kind: InputKind, text: string, dateType: string): Json | undefined {
  if (kind === "text") return text;
  if (text.trim() === "") return undefined;
  if (kind === "float") {
    const n = Number(text);
    return Number.isFinite(n) ? n : undefined;
  }
  if (kind === "time" || dateType === "time") {
    const [hh, mm, ss] = text.split(":").map(Number);
    const s = (hh ?? 0) * 3600 + (mm ?? 0) * 60 + (ss ?? 0);
    return Number.isFinite(s) ? s : undefined;
  }
  const t = new Date(text).getTime(); // local time, as the picker shows it
  return Number.isFinite(t) ? t : undefined;
}

/** A command value in the form the field takes. */
function toField(kind: InputKind, value: Json | undefined, dateType: string): string {
  if (value === undefined || value === null) return "";
  if ((kind === "time" || (kind === "datetime" && dateType === "time")) && typeof value === "number") {
    const pad = (n: number) => String(Math.floor(n)).padStart(2, "0");
    return `${pad(value / 3600)}:${pad((value % 3600) / 60)}`;
  }
  if (kind === "datetime" && typeof value === "number") {
    const local = new Date(value - new Date(value).getTimezoneOffset() * 60_000).toISOString();
    return dateType === "date" ? local.slice(0, 10) : local.slice(0, 16);
  }
  return String(value);
}

function showValue(kind: InputKind, value: Json, dateType: string): string {
  if (kind === "datetime" && dateType !== "time" && typeof value === "number") return new Date(value).toLocaleString();
  if ((kind === "time" || dateType === "time") && typeof value === "number") return toField("time", value, "time");
  return typeof value === "string" ? value : JSON.stringify(value);
}

export function select(ctx: ElementContext, name: string, node: El): Rendered {
  const label = labelOf(ctx, name, node);
  const field = h("select", { className: "input", "aria-label": label });
  const options = isObject(node.options) ? Object.values(node.options).filter(isObject) : [];
  field.append(h("option", { value: "" }, "—"));
  for (const o of options) field.append(h("option", { value: str(o.name) ?? "" }, str(ctx.value(o.displayString)) ?? str(o.name) ?? ""));
  const busy = busyTracker(ctx, node, field);
  const show = () => {
    const v = ctx.value(node.currentValue);
    field.value = typeof v === "string" && options.some((o) => o.name === v) ? v : "";
  };
  field.addEventListener("change", async () => {
    const chosen = field.value;
    if (!chosen) return;
    if (!(await confirmed(ctx, name, node, field.selectedOptions[0]?.textContent ?? chosen))) return show();
    await busy.send(chosen);
  });
  const el = elementBox(name, label, str(node.helpString), field);
  return {
    el,
    update: () => {
      if (document.activeElement !== field) show();
      field.disabled = !enabled(ctx, node);
      busy.check();
    },
  };
}

export function slider(ctx: ElementContext, name: string, node: El): Rendered {
  const label = labelOf(ctx, name, node);
  const units = str(node.units) ?? "";
  const field = h("input", {
    className: "input slider",
    type: "range",
    min: numOf(ctx.value(node.min)) ?? 0,
    max: numOf(ctx.value(node.max)) ?? 100,
    step: numOf(node.stepSize) ?? 1,
    "aria-label": label,
  });
  const colours = str(node.colours)
    ?.split(",")
    .map((c) => cssColour(c.trim()))
    .filter(Boolean);
  if (colours && colours.length > 1) field.style.background = `linear-gradient(to right, ${colours.join(", ")})`;
  const out = h("div", { className: "hint" });
  const busy = busyTracker(ctx, node, field);
  let dragging = false;
  field.addEventListener("input", () => {
    dragging = true;
    out.textContent = `${field.value}${units}`;
  });
  field.addEventListener("change", async () => {
    dragging = false;
    if (!(await confirmed(ctx, name, node, `${field.value}${units}`))) return;
    await busy.send(Number(field.value));
  });
  const el = elementBox(name, label, str(node.helpString), field, out);
  return {
    el,
    update: () => {
      const v = ctx.value(node.currentValue);
      if (typeof v === "number" && !dragging) {
        field.value = String(v);
        out.textContent = `${v}${units}`;
      } else if (v === undefined || v === null) out.textContent = "not set";
      field.disabled = !enabled(ctx, node);
      busy.check();
    },
  };
}

export function toggleSwitch(ctx: ElementContext, name: string, node: El): Rendered {
  const label = labelOf(ctx, name, node);
  const button = h("button", { type: "button", className: "toggle", role: "switch", "aria-checked": "false", "aria-label": label });
  const state = h("span", { className: "hint" });
  const busy = busyTracker(ctx, node, button);
  button.addEventListener("click", async () => {
    const next = button.getAttribute("aria-checked") !== "true";
    if (!(await confirmed(ctx, name, node, next ? "on" : "off"))) return;
    await busy.send(next);
  });
  const el = elementBox(name, label, str(node.helpString), h("div", { className: "switch-row" }, button, state));
  return {
    el,
    update: () => {
      const v = ctx.value(node.currentValue) === true;
      button.setAttribute("aria-checked", v ? "true" : "false");
      state.textContent = v ? "On" : "Off";
      button.disabled = !enabled(ctx, node);
      busy.check();
    },
  };
}

/**
 * WarningIndicator: a warning banner, shown while the element is not hidden (apps bind `hidden`
 * to a tag). pydoover writes `can_cancel`; what cancelling should send is not defined by
 * pydoover, so "Dismiss" only hides the banner in this page until it is raised again.
 */
export function warning(ctx: ElementContext, name: string, node: El): Rendered {
  const text = h("span", { className: "warning-text" }, labelOf(ctx, name, node));
  const dismiss = node.can_cancel === false ? null : h("button", { type: "button", className: "btn btn-ghost small" }, "Dismiss");
  const el = h(
    "div",
    { className: "element warning-indicator", "data-element": name, role: "alert" },
    h("span", { className: "warning-icon", "aria-hidden": "true" }, "⚠"),
    text,
    h("span", { className: "spacer" }),
    dismiss,
  );
  let dismissed = false;
  dismiss?.addEventListener("click", () => {
    dismissed = true;
    el.classList.add("dismissed");
  });
  return {
    el,
    update: () => {
      const hidden = ctx.value(node.hidden) === true;
      if (hidden) dismissed = false;
      el.classList.toggle("dismissed", dismissed);
    },
  };
}
