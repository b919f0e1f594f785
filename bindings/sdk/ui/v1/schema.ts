// A pydoover 1.x UI declaration and the `uiApplication` schema it publishes (ui/declarative.py
// UI.to_schema): the app-level fields default to `$config.app().…` references the dashboard (or
// `resolveConfig`) fills from the app's deployment config, and the children are the elements.
// Publishing replaces the whole schema under `ui_state.state.children.<appKey>`, as pydoover does
// (it first writes null there, then the schema, so no key of an older schema survives).
import type { Agent } from "../../agent.js";
import type { Json } from "../../session.js";
import { type Dict, type Element, Interaction, Container } from "./elements.js";
import { normalize, type UIValue } from "./reference.js";

export interface UISchemaOptions {
  displayName?: UIValue;
  hidden?: UIValue;
  fullWidth?: UIValue;
  position?: UIValue;
  defaultOpen?: UIValue;
  icon?: UIValue | null;
  colour?: UIValue | null;
}

/** A declared 1.x UI: `new UI([elements...], options)`, pydoover's `class MyUI(UI)`. */
export class UI {
  readonly elements = new Map<string, Element>();
  readonly options: Required<UISchemaOptions>;

  constructor(elements: Element[] = [], options: UISchemaOptions = {}) {
    for (const e of elements) this.elements.set(e.name, e);
    // pydoover's __init_subclass__: a string hidden/fullWidth gets `:boolean:false` appended.
    const hidden = options.hidden ?? "$config.app().interpreter_hidden";
    const fullWidth = options.fullWidth ?? "$config.app().interpreter_full_width";
    this.options = {
      displayName: options.displayName ?? "$config.app().APP_DISPLAY_NAME",
      hidden: typeof hidden === "string" ? `${hidden}:boolean:false` : hidden,
      fullWidth: typeof fullWidth === "string" ? `${fullWidth}:boolean:false` : fullWidth,
      position: options.position ?? "$config.app().dv_app_position:number:100",
      defaultOpen: options.defaultOpen ?? "$config.app().dv_app_default_open:boolean",
      icon: options.icon ?? null,
      colour: options.colour ?? null,
    };
  }

  addElement(element: Element): Element {
    this.elements.set(element.name, element);
    return element;
  }

  removeElement(name: string): void {
    this.elements.delete(name);
  }

  /** Every interaction, containers walked, keyed by name (commands are addressed by it). */
  interactions(): Map<string, Interaction> {
    const out = new Map<string, Interaction>();
    const walk = (elements: Iterable<Element>) => {
      for (const e of elements) {
        if (e instanceof Interaction) out.set(e.name, e);
        if (e instanceof Container) walk(e.children.values());
      }
    };
    walk(this.elements.values());
    return out;
  }

  /** The `uiApplication` schema; `config` resolves `$config.app()` references as pydoover does. */
  toSchema(config?: Record<string, unknown>): Dict {
    const o = this.options;
    const children: Dict = {};
    for (const e of this.elements.values()) children[e.name] = e.toDict();
    const schema = normalize({
      displayString: o.displayName,
      hidden: o.hidden,
      fullWidth: o.fullWidth,
      position: o.position,
      icon: o.icon,
      colour: o.colour,
      defaultOpen: o.defaultOpen,
      type: "uiApplication",
      name: "$config.app().APP_KEY",
      children,
    }) as Dict;
    return config === undefined ? schema : (resolveConfig(schema, config) as Dict);
  }
}

const CONFIG_REF = /^\$config\.app\(\)\.(\w+)(?::(\w+))?(?::(.+))?$/s;

/**
 * pydoover's _resolve_config_refs: a string that is exactly `$config.app().KEY[:type[:default]]`
 * becomes the config value (or the default), coerced per type; other strings stay.
 */
export function resolveConfig(value: Json, config: Record<string, unknown>): Json {
  if (Array.isArray(value)) return value.map((v) => resolveConfig(v, config));
  if (value !== null && typeof value === "object") {
    const out: Dict = {};
    for (const [k, v] of Object.entries(value)) out[k] = resolveConfig(v, config);
    return out;
  }
  if (typeof value !== "string" || !value.includes("$config.app().")) return value;
  const m = CONFIG_REF.exec(value);
  if (!m) return value;
  const [, key, typeHint, fallback] = m;
  let raw: unknown = Object.prototype.hasOwnProperty.call(config, key!) ? config[key!] : undefined;
  if (raw === undefined || raw === null) raw = fallback;
  if (raw === undefined || raw === null) return null;
  const text = typeof raw === "boolean" ? (raw ? "True" : "False") : String(raw);
  if (typeHint === "boolean") return typeof raw === "boolean" ? raw : ["true", "1", "yes"].includes(text.toLowerCase());
  if (typeHint === "number") {
    const n = Number(text);
    if (text.trim() === "" || Number.isNaN(n) || (!text.includes(".") && !/^\s*[-+]?\d+\s*$/.test(text))) return raw as Json;
    return n;
  }
  if (typeHint === "string") return text;
  return raw as Json;
}

export const UI_STATE_CHANNEL = "ui_state";

/** Publishes `schema` as the app's whole entry in `ui_state` (cleared first, as pydoover does). */
export async function publishUISchema(agent: Agent, appKey: string, schema: Dict): Promise<void> {
  await agent.publish(UI_STATE_CHANNEL, { state: { children: { [appKey]: null } } });
  await agent.publish(UI_STATE_CHANNEL, { state: { children: { [appKey]: schema } } });
}
