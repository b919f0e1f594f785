// UI elements and their wire form.
//
// Every element serialises (toJSON) to exactly the dictionary pydoover builds for it, so Doover's
// site and tooling read a tagwire UI unchanged. Reference: getdoover/pydoover tag 0.4.18 (commit
// b90ac3aad4b8, pydoover/ui/{element,variable,interaction,parameter,submodule,misc}.py), the last
// release line whose element types are `uiAction`, `uiFloatParam`, `uiStateCommand` ... (pydoover
// 1.x renamed them to uiButton/uiFloatInput/uiSelect and moved to tag references). One field
// comes from pydoover 1.12.5: `units` (Element.to_dict), which 0.4 lacked.
//
// Rules carried over from pydoover, case by case:
// - Element fields appear in pydoover's order; a field whose value is unset is left out (pydoover
//   drops None). `showActivity` defaults to true and `hidden` to false, so both are always
//   present - except on interactions, whose `showActivity` defaults to unset.
// - Interactions write `currentValue` only once a value was set; their `default` is not sent
//   (0.4 does not serialise it) but is what `currentValue` reads while nothing is set.
// - A container numbers children without a position 101, 102, ... in the order they are added.
// - Variable values are rounded to `precision` when set (not the constructor's initial value,
//   as in pydoover), with Python's round() (half to even on the exact binary value), and Dates
//   become epoch seconds (`int(ts)`).
// Deliberate differences: pydoover tests `precision`, `min_val`/`max_val` and `position` for
// truthiness, so 0 silently means "unset" there (NumericParameter(min_val=0) sends no min); here
// only undefined means unset and 0 is sent. A null value is never written into an object field
// (in an aggregate diff null means "delete"): pydoover's `currentValue: None` is sent as no field,
// which leaves the same aggregate.
import { TagwireError } from "../../core/errors.js";
import type { Json } from "../session.js";
import { cloneJson, deepEqual, type JsonObject } from "../json.js";

const NAME = /^[a-zA-Z0-9_-]+$/;
const MAX_NAME_LENGTH = 255;

/** Throws TAGWIRE_ERR_NAME unless `name` matches ^[a-zA-Z0-9_-]+$ (1..255 characters). */
export function assertUIName(name: unknown, what = "UI element name"): asserts name is string {
  if (typeof name !== "string" || name.length === 0 || name.length > MAX_NAME_LENGTH || !NAME.test(name)) {
    throw new TagwireError("TAGWIRE_ERR_NAME", `invalid ${what} ${JSON.stringify(name)}: must match ^[a-zA-Z0-9_-]+$ (1..${MAX_NAME_LENGTH} chars)`);
  }
}

function uiError(message: string): TagwireError {
  return new TagwireError("TAGWIRE_ERR_UI", message);
}

/** Colours pydoover names (the site accepts any HTML colour name or hex string too). */
export const Colour = {
  blue: "blue",
  yellow: "yellow",
  red: "red",
  green: "green",
  magenta: "magenta",
  limegreen: "limegreen",
  tomato: "tomato",
  orange: "orange",
  purple: "purple",
  grey: "grey",
} as const;

/** Gauge forms for a NumericVariable's `form`. */
export const Widget = { linear: "linearGauge", radial: "radialGauge" } as const;

/** How the site lays out an application: `stacked` or inside a `submodule`. */
export const ApplicationVariant = { submodule: "submodule", stacked: "stacked" } as const;

/** A coloured band on a variable's display; wire form `{min, max, colour, show_on_graph, label?}`. */
export interface ValueRange {
  label?: string;
  min?: number | null;
  max?: number | null;
  /** Default "blue". */
  colour?: string;
  /** Default true. */
  showOnGraph?: boolean;
}

/** One choice of a StateCommand; wire form `{name, displayString, type: "uiElement"}`. */
export interface StateOption {
  name: string;
  displayString: string;
}

function rangeToJSON(range: ValueRange): JsonObject {
  const out: JsonObject = {
    min: range.min ?? null,
    max: range.max ?? null,
    colour: range.colour ?? Colour.blue,
    show_on_graph: range.showOnGraph ?? true,
  };
  if (range.label) out.label = range.label;
  return out;
}

/**
 * Python's round(x, digits) for 0 <= digits <= 20: the nearest value with `digits` decimals of
 * x's exact binary value, ties to even. toFixed() rounds the exact value too but breaks ties
 * upward, so exact ties are found from the 100-digit expansion (exact for these magnitudes) and
 * settled by the parity of the last kept digit.
 */
export function roundHalfEven(x: number, digits: number): number {
  if (!Number.isFinite(x) || Number.isInteger(x)) return x;
  const abs = Math.abs(x);
  let rounded: number;
  const expansion = abs.toFixed(100);
  const dot = expansion.indexOf(".");
  const tail = expansion.slice(dot + 1 + digits);
  if (/^50*$/.test(tail)) {
    const kept = expansion.slice(0, dot + 1 + digits);
    const last = digits > 0 ? kept.charCodeAt(kept.length - 1) : expansion.charCodeAt(dot - 1);
    rounded = (last - 48) % 2 === 0 ? Number(kept) : Number(abs.toFixed(digits));
  } else {
    rounded = Number(abs.toFixed(digits));
  }
  return x < 0 ? -rounded : rounded;
}

function epochSeconds(value: Date | number): number {
  return value instanceof Date ? Math.trunc(value.getTime() / 1000) : value;
}

/** Sets `out[key]` unless the value is unset (undefined or null); objects are copied. */
function put(out: JsonObject, key: string, value: unknown): void {
  if (value !== undefined && value !== null) out[key] = cloneJson(value as Json);
}

// Element properties are plain accessors over `_props`: every write that changes a value marks
// the app's UI tree dirty, so the manager serialises and diffs only after something changed.
// Replace arrays/objects (ranges, conditions, options) rather than mutating them in place, or
// call `ui.markDirty()` afterwards.
function tracked(ctor: abstract new (...args: never[]) => UIElement, keys: readonly string[]): void {
  for (const key of keys) {
    Object.defineProperty(ctor.prototype, key, {
      get(this: UIElement) {
        return this._props[key];
      },
      set(this: UIElement, value: unknown) {
        this._write(key, value);
      },
      configurable: true,
    });
  }
}

/** Fields every element accepts (pydoover's Element keyword arguments, in wire spelling). */
export interface ElementOptions {
  isAvailable?: boolean;
  helpString?: string;
  verboseString?: string;
  showActivity?: boolean;
  form?: string;
  graphic?: string;
  layout?: string;
  componentUrl?: string;
  /** Display order; a container assigns 101, 102, ... when unset. */
  position?: number;
  conditions?: JsonObject;
  hidden?: boolean;
}

export abstract class UIElement {
  readonly name: string;
  /** @internal Set by Container.add/remove. */
  _parent: Container | null = null;
  /** @internal Current property values (read through the accessors). */
  readonly _props: Record<string, unknown> = {};
  /** @internal Set on a root container by its UIManager: called when anything below changes. */
  _onChange: (() => void) | null = null;

  declare displayString: string | undefined;
  declare isAvailable: boolean | undefined;
  declare helpString: string | undefined;
  declare verboseString: string | undefined;
  declare showActivity: boolean | undefined;
  declare form: string | undefined;
  declare graphic: string | undefined;
  declare layout: string | undefined;
  declare componentUrl: string | undefined;
  declare position: number | undefined;
  declare conditions: JsonObject | undefined;
  declare hidden: boolean;

  constructor(name: string, displayString: string | undefined, options: ElementOptions = {}) {
    assertUIName(name);
    this.name = name;
    Object.assign(this._props, {
      displayString,
      isAvailable: options.isAvailable,
      helpString: options.helpString,
      verboseString: options.verboseString,
      showActivity: options.showActivity ?? true,
      form: options.form,
      graphic: options.graphic,
      layout: options.layout,
      componentUrl: options.componentUrl,
      position: options.position,
      conditions: options.conditions === undefined ? undefined : cloneJson(options.conditions),
      hidden: options.hidden ?? false,
    });
  }

  /** The container holding this element, if any. */
  get parent(): Container | null {
    return this._parent;
  }

  /** pydoover's element type string, e.g. "uiVariable". */
  abstract get type(): string;

  /** The wire form (pydoover's to_dict). */
  toJSON(): JsonObject {
    const p = this._props;
    const out: JsonObject = { name: this.name, type: this.type };
    put(out, "displayString", p.displayString);
    put(out, "isAvailable", p.isAvailable);
    put(out, "helpString", p.helpString);
    put(out, "verboseString", p.verboseString);
    put(out, "showActivity", p.showActivity);
    put(out, "form", p.form);
    put(out, "graphic", p.graphic);
    put(out, "layout", p.layout);
    put(out, "componentUrl", p.componentUrl);
    put(out, "position", p.position);
    put(out, "conditions", p.conditions);
    put(out, "hidden", p.hidden);
    return out;
  }

  /** Marks the tree this element belongs to as changed. */
  markDirty(): void {
    let node: UIElement = this;
    while (node.parent !== null) node = node.parent;
    node._onChange?.();
  }

  /** @internal */
  _write(key: string, value: unknown): void {
    if (deepEqual(this._props[key], value)) return;
    this._props[key] = typeof value === "object" && value !== null ? cloneJson(value) : value;
    this.markDirty();
  }
}
tracked(UIElement, [
  "displayString", "isAvailable", "helpString", "verboseString", "showActivity", "form", "graphic",
  "layout", "componentUrl", "position", "conditions", "hidden",
]);

// ---------------------------------------------------------------------------------------------
// Variables: read-only values the app shows (pydoover/ui/variable.py).

export interface VariableOptions<T> extends ElementOptions {
  currentValue?: T | null;
  /** Decimal places (0..20); values are rounded when set and `decPrecision` is sent. */
  precision?: number;
  units?: string;
  ranges?: ValueRange[];
  /** Sent as `earliestDataDate` in epoch seconds. */
  earliestDataDate?: Date | number;
  defaultZoom?: string;
}

export abstract class Variable<T extends Json = Json> extends UIElement {
  declare precision: number | undefined;
  declare units: string | undefined;
  declare ranges: ValueRange[];
  declare earliestDataDate: Date | number | undefined;
  declare defaultZoom: string | undefined;

  constructor(name: string, displayString: string | undefined, options: VariableOptions<T> = {}) {
    super(name, displayString, options);
    checkPrecision(options.precision);
    Object.assign(this._props, {
      precision: options.precision,
      units: options.units,
      ranges: cloneJson(options.ranges ?? []),
      earliestDataDate: options.earliestDataDate,
      defaultZoom: options.defaultZoom,
    });
    // As pydoover: the initial value is stored as given; rounding applies to later writes.
    this._props.currentValue = options.currentValue instanceof Date ? epochSeconds(options.currentValue) : (options.currentValue ?? null);
  }

  get type(): string {
    return "uiVariable";
  }

  /** pydoover's var_type: "float", "string", "bool" or "time". */
  abstract get varType(): string;

  /** The value shown; null when unset. Writing marks the tree dirty only if the value changed. */
  get currentValue(): T | null {
    return this._props.currentValue as T | null;
  }

  set currentValue(value: T | null) {
    this._write("currentValue", this._normalise(value));
  }

  /** @internal Rounds numbers to `precision` (Python round), as pydoover's Variable.update does. */
  _normalise(value: unknown): unknown {
    const precision = this._props.precision as number | undefined;
    if (precision !== undefined && typeof value === "number") return roundHalfEven(value, precision);
    return value;
  }

  override toJSON(): JsonObject {
    const p = this._props;
    const out = super.toJSON();
    out.type = this.type;
    out.varType = this.varType;
    put(out, "currentValue", p.currentValue);
    put(out, "decPrecision", p.precision);
    if (p.earliestDataDate !== undefined) out.earliestDataDate = epochSeconds(p.earliestDataDate as Date | number);
    put(out, "defaultZoom", p.defaultZoom);
    out.ranges = (p.ranges as ValueRange[]).map(rangeToJSON);
    put(out, "units", p.units);
    return out;
  }
}
tracked(Variable, ["precision", "units", "ranges", "earliestDataDate", "defaultZoom"]);

function checkPrecision(precision: unknown): void {
  if (precision === undefined) return;
  if (typeof precision !== "number" || !Number.isInteger(precision) || precision < 0 || precision > 20) {
    throw uiError(`precision must be an integer from 0 to 20, got ${String(precision)}`);
  }
}

export interface NumericVariableOptions extends VariableOptions<number> {
  /** A gauge (`Widget.linear` / `Widget.radial`); sent as `form`. */
  form?: string;
}

/** A number shown with optional precision, units and coloured ranges (`varType: "float"`). */
export class NumericVariable extends Variable<number> {
  constructor(name: string, displayString?: string, options: NumericVariableOptions = {}) {
    super(name, displayString, options);
  }

  get varType(): string {
    return "float";
  }
}

/** Text (`varType: "string"`). */
export class TextVariable extends Variable<string> {
  constructor(name: string, displayString?: string, options: VariableOptions<string> = {}) {
    super(name, displayString, options);
  }

  get varType(): string {
    return "string";
  }
}

/** True/false (`varType: "bool"`). */
export class BooleanVariable extends Variable<boolean> {
  constructor(name: string, displayString?: string, options: VariableOptions<boolean> = {}) {
    super(name, displayString, options);
  }

  get varType(): string {
    return "bool";
  }
}

/** A point in time (`varType: "time"`); a Date is stored as epoch seconds, like pydoover. */
export class DateTimeVariable extends Variable<number> {
  constructor(name: string, displayString?: string, options: VariableOptions<number | Date> = {}) {
    super(name, displayString, options as VariableOptions<number>);
  }

  get varType(): string {
    return "time";
  }

  // Accepts a Date too; reads back as epoch seconds.
  override get currentValue(): number | null {
    return super.currentValue;
  }

  override set currentValue(value: number | Date | null) {
    super.currentValue = value as number | null;
  }

  override _normalise(value: unknown): unknown {
    return value instanceof Date ? epochSeconds(value) : super._normalise(value);
  }
}

// ---------------------------------------------------------------------------------------------
// Interactions: elements a user writes to; their values travel on `ui_cmds`
// (pydoover/ui/interaction.py and parameter.py).

export interface InteractionOptions extends ElementOptions {
  /** An initial value (sent as `currentValue`). */
  currentValue?: Json;
  /** What `currentValue` reads while no value is set, and what a cleared command falls back to. */
  default?: Json;
}

export abstract class Interaction extends UIElement {
  declare default: Json | undefined;

  constructor(name: string, displayString: string | undefined, options: InteractionOptions = {}) {
    super(name, displayString, options);
    // pydoover's Interaction leaves show_activity unset unless given.
    this._props.showActivity = options.showActivity;
    this._props.default = options.default === undefined ? undefined : cloneJson(options.default);
    this._props.value = options.currentValue === undefined ? undefined : cloneJson(options.currentValue);
  }

  get type(): string {
    return "uiInteraction";
  }

  /**
   * The value last received from `ui_cmds` or coerced by the app; while none is set, `default`
   * (or null). Read-only here: change it with `ui.coerce(name, value)`, which also writes it to
   * `ui_cmds`.
   */
  get currentValue(): Json {
    const value = this._props.value as Json | undefined;
    if (value === undefined) return (this._props.default as Json | undefined) ?? null;
    return value;
  }

  /**
   * @internal A value arrived (or was coerced). Like pydoover's transform_check, a cleared value
   * (null) falls back to the default.
   */
  _receive(value: Json): void {
    const next = value === null && this._props.default !== undefined ? this._props.default : value;
    this._write("value", next);
  }

  override toJSON(): JsonObject {
    const out = super.toJSON();
    put(out, "currentValue", this._props.value);
    put(out, "showActivity", this._props.showActivity);
    return out;
  }
}
tracked(Interaction, ["default"]);

export interface ActionOptions extends InteractionOptions {
  /** Default `Colour.blue`. */
  colour?: string;
  /** Ask the user to confirm before sending; default true. */
  requiresConfirm?: boolean;
  /** Default false. */
  disabled?: boolean;
}

/** A button (`uiAction`). Its command value is set when pressed; clear it with coerce(name, null). */
export class Action extends Interaction {
  declare colour: string;
  declare requiresConfirm: boolean;
  declare disabled: boolean;

  constructor(name: string, displayString?: string, options: ActionOptions = {}) {
    super(name, displayString, options);
    this._props.colour = options.colour ?? Colour.blue;
    this._props.requiresConfirm = options.requiresConfirm ?? true;
    this._props.disabled = options.disabled ?? false;
  }

  override get type(): string {
    return "uiAction";
  }

  override toJSON(): JsonObject {
    const out = super.toJSON();
    out.colour = String(this._props.colour);
    out.requiresConfirm = this._props.requiresConfirm as boolean;
    out.disabled = this._props.disabled as boolean;
    return out;
  }
}
tracked(Action, ["colour", "requiresConfirm", "disabled"]);

export interface StateCommandOptions extends InteractionOptions {
  /** The choices; sent as `userOptions` keyed by option name. */
  options?: StateOption[];
}

/** A drop-down of states (`uiStateCommand`). */
export class StateCommand extends Interaction {
  constructor(name: string, displayString?: string, options: StateCommandOptions = {}) {
    super(name, displayString, options);
    this.options = options.options ?? [];
  }

  override get type(): string {
    return "uiStateCommand";
  }

  get options(): StateOption[] {
    return cloneJson(this._props.options as StateOption[]);
  }

  set options(options: StateOption[]) {
    const seen = new Set<string>();
    for (const option of options) {
      assertUIName(option.name, "state option name");
      if (seen.has(option.name)) throw uiError(`duplicate state option ${JSON.stringify(option.name)} in ${this.name}`);
      seen.add(option.name);
    }
    this._write("options", options.map((o) => ({ name: o.name, displayString: o.displayString })));
  }

  override toJSON(): JsonObject {
    const out = super.toJSON();
    const userOptions: JsonObject = {};
    for (const o of this._props.options as StateOption[]) {
      userOptions[o.name] = { name: o.name, displayString: o.displayString, type: "uiElement" };
    }
    out.userOptions = userOptions;
    return out;
  }
}

export interface SliderOptions extends InteractionOptions {
  /** Default 0. */
  min?: number;
  /** Default 100. */
  max?: number;
  /** Default 0.1. */
  stepSize?: number;
  /** Two handles; default true (pydoover's default). */
  dualSlider?: boolean;
  /** Sent as `isInverted`; default true (pydoover's default). */
  inverted?: boolean;
  icon?: string;
  /** e.g. "red,green,blue". */
  colours?: string;
}

/** A slider (`uiSlider`). */
export class Slider extends Interaction {
  declare min: number;
  declare max: number;
  declare stepSize: number;
  declare dualSlider: boolean;
  declare inverted: boolean;
  declare icon: string | undefined;
  declare colours: string | undefined;

  constructor(name: string, displayString?: string, options: SliderOptions = {}) {
    super(name, displayString, options);
    Object.assign(this._props, {
      min: options.min ?? 0,
      max: options.max ?? 100,
      stepSize: options.stepSize ?? 0.1,
      dualSlider: options.dualSlider ?? true,
      inverted: options.inverted ?? true,
      icon: options.icon,
      colours: options.colours,
    });
  }

  override get type(): string {
    return "uiSlider";
  }

  override toJSON(): JsonObject {
    const p = this._props;
    const out = super.toJSON();
    out.min = p.min as number;
    out.max = p.max as number;
    out.stepSize = p.stepSize as number;
    out.dualSlider = p.dualSlider as boolean;
    out.isInverted = p.inverted as boolean;
    // pydoover omits empty icon/colours (a null would delete them in a diff).
    if (p.icon) out.icon = p.icon as string;
    if (p.colours) out.colours = p.colours as string;
    return out;
  }
}
tracked(Slider, ["min", "max", "stepSize", "dualSlider", "inverted", "icon", "colours"]);

/** Base of the parameters: values a user edits (pydoover/ui/parameter.py). */
export abstract class Parameter extends Interaction {}

export interface NumericParameterOptions extends InteractionOptions {
  min?: number;
  max?: number;
}

/** A number input (`uiFloatParam`). */
export class NumericParameter extends Parameter {
  declare min: number | undefined;
  declare max: number | undefined;

  constructor(name: string, displayString?: string, options: NumericParameterOptions = {}) {
    super(name, displayString, options);
    this._props.min = options.min;
    this._props.max = options.max;
  }

  override get type(): string {
    return "uiFloatParam";
  }

  override toJSON(): JsonObject {
    const out = super.toJSON();
    put(out, "min", this._props.min);
    put(out, "max", this._props.max);
    return out;
  }
}
tracked(NumericParameter, ["min", "max"]);

export interface TextParameterOptions extends InteractionOptions {
  /** A multi-line text area; default false. */
  isTextArea?: boolean;
}

/** A text input (`uiTextParam`). */
export class TextParameter extends Parameter {
  declare isTextArea: boolean;

  constructor(name: string, displayString?: string, options: TextParameterOptions = {}) {
    super(name, displayString, options);
    this._props.isTextArea = options.isTextArea ?? false;
  }

  override get type(): string {
    return "uiTextParam";
  }

  override toJSON(): JsonObject {
    const out = super.toJSON();
    out.isTextArea = this._props.isTextArea as boolean;
    return out;
  }
}
tracked(TextParameter, ["isTextArea"]);

/**
 * A true/false input (`uiBoolParam`). pydoover 0.4 refuses to build one ("not implemented in
 * doover site"); tagwire's own viewer renders it, the Doover site may not.
 */
export class BooleanParameter extends Parameter {
  constructor(name: string, displayString?: string, options: InteractionOptions = {}) {
    super(name, displayString, options);
  }

  override get type(): string {
    return "uiBoolParam";
  }
}

export interface DateTimeParameterOptions extends InteractionOptions {
  /** Offer a time picker as well as a date; default false. */
  includeTime?: boolean;
}

/** A date(/time) input (`uiDatetimeParam`); values are epoch seconds. */
export class DateTimeParameter extends Parameter {
  declare includeTime: boolean;

  constructor(name: string, displayString?: string, options: DateTimeParameterOptions = {}) {
    super(name, displayString, options);
    this._props.includeTime = options.includeTime ?? false;
  }

  override get type(): string {
    return "uiDatetimeParam";
  }

  override toJSON(): JsonObject {
    const out = super.toJSON();
    out.includeTime = this._props.includeTime as boolean;
    return out;
  }
}
tracked(DateTimeParameter, ["includeTime"]);

// ---------------------------------------------------------------------------------------------
// Special elements and containers (pydoover/ui/element.py, submodule.py).

/**
 * The notifications banner (`uiAlertStream`). pydoover pins its name to "significantEvent"
 * (the Doover 1 alert channel); keep the defaults. tagwire's alerts live on the `notifications`
 * channel (see alerts.ts).
 */
export class AlertStream extends UIElement {
  constructor(name = "significantEvent", displayString = "placeholder", options: ElementOptions = {}) {
    super(name, displayString, options);
  }

  get type(): string {
    return "uiAlertStream";
  }
}

export interface ContainerOptions extends ElementOptions {
  children?: UIElement[];
  statusIcon?: string;
}

/** Groups elements (`uiContainer`); children are sent keyed by name. */
export class Container extends UIElement {
  declare statusIcon: string | undefined;
  private readonly childMap = new Map<string, UIElement>();
  private nextPosition = 101;

  constructor(name: string, displayString?: string, options: ContainerOptions = {}) {
    super(name, displayString, options);
    this._props.statusIcon = options.statusIcon;
    if (options.children !== undefined) this.add(...options.children);
  }

  get type(): string {
    return "uiContainer";
  }

  /** The direct children, in the order they were added. */
  get children(): UIElement[] {
    return [...this.childMap.values()];
  }

  /** A direct child by name. */
  child(name: string): UIElement | undefined {
    return this.childMap.get(name);
  }

  /** The element named `name` anywhere below this container. */
  find(name: string): UIElement | undefined {
    const direct = this.childMap.get(name);
    if (direct !== undefined) return direct;
    for (const c of this.childMap.values()) {
      if (c instanceof Container) {
        const found = c.find(name);
        if (found !== undefined) return found;
      }
    }
    return undefined;
  }

  /**
   * Adds elements (all or none: a name clash or an element that already has a parent throws
   * TAGWIRE_ERR_UI and changes nothing). Names must be unique in the whole application tree,
   * because commands and `ui.get()` address elements by name alone.
   */
  add(...children: UIElement[]): this {
    const root = this.root();
    const registry = root instanceof UIApplication ? root._registry : null;
    const incoming = new Set<string>();
    for (const c of children) {
      if (!(c instanceof UIElement)) throw uiError(`not a UI element: ${String(c)}`);
      if (c.parent !== null) throw uiError(`element ${JSON.stringify(c.name)} is already in container ${JSON.stringify(c.parent.name)}`);
      if (c === root || (c instanceof Container && c.contains(this))) throw uiError(`cannot add ${JSON.stringify(c.name)} inside itself`);
      for (const e of subtree(c)) {
        if (incoming.has(e.name) || (e === c && this.childMap.has(e.name)) || registry?.has(e.name)) {
          throw uiError(`duplicate UI element name ${JSON.stringify(e.name)}`);
        }
        incoming.add(e.name);
      }
    }
    for (const c of children) {
      this.childMap.set(c.name, c);
      c._parent = this;
      // Outside the tracked setter: the add itself marks the tree dirty below.
      if (c._props.position === undefined) c._props.position = this.nextPosition++;
      if (registry !== null) for (const e of subtree(c)) registry.set(e.name, e);
    }
    if (children.length > 0) this.markDirty();
    return this;
  }

  /** Removes direct children (by element or name); unknown ones are ignored. */
  remove(...children: (UIElement | string)[]): this {
    const root = this.root();
    const registry = root instanceof UIApplication ? root._registry : null;
    let removed = false;
    for (const item of children) {
      const name = typeof item === "string" ? item : item.name;
      const c = this.childMap.get(name);
      if (c === undefined || (typeof item !== "string" && c !== item)) continue;
      this.childMap.delete(name);
      c._parent = null;
      if (registry !== null) for (const e of subtree(c)) registry.delete(e.name);
      removed = true;
    }
    if (removed) this.markDirty();
    return this;
  }

  /** True when `element` is this container or lies below it. */
  contains(element: UIElement): boolean {
    for (let node: UIElement | null = element; node !== null; node = node.parent) if (node === this) return true;
    return false;
  }

  override toJSON(): JsonObject {
    const out = super.toJSON();
    put(out, "statusIcon", this._props.statusIcon);
    const children: JsonObject = {};
    for (const [name, c] of this.childMap) children[name] = c.toJSON();
    out.children = children;
    return out;
  }

  private root(): UIElement {
    let node: UIElement = this;
    while (node.parent !== null) node = node.parent;
    return node;
  }
}
tracked(Container, ["statusIcon"]);

function* subtree(element: UIElement): Generator<UIElement> {
  yield element;
  if (element instanceof Container) for (const c of element.children) yield* subtree(c);
}

export interface SubmoduleOptions extends ContainerOptions {
  /** Sent as `statusString`. */
  status?: string;
  /** Start collapsed; sent as `defaultOpen: !collapsed`. Default false. */
  collapsed?: boolean;
}

/** A collapsible group with a status line (`uiSubmodule`). */
export class Submodule extends Container {
  declare status: string | undefined;
  declare collapsed: boolean;

  constructor(name: string, displayString?: string, options: SubmoduleOptions = {}) {
    super(name, displayString, options);
    this._props.status = options.status;
    this._props.collapsed = options.collapsed ?? false;
  }

  override get type(): string {
    return "uiSubmodule";
  }

  override toJSON(): JsonObject {
    const out = super.toJSON();
    put(out, "statusString", this._props.status);
    out.defaultOpen = !this._props.collapsed;
    return out;
  }
}
tracked(Submodule, ["status", "collapsed"]);

export interface UIApplicationOptions extends ContainerOptions {
  /** `ApplicationVariant.stacked` or `.submodule`. */
  variant?: string;
}

/**
 * The root of one app's UI (`uiApplication`, named after the app key), as pydoover's UIManager
 * builds it. It keeps the name index of the whole tree.
 */
export class UIApplication extends Container {
  declare variant: string | undefined;
  /** @internal Every element below, by name. */
  readonly _registry = new Map<string, UIElement>();

  constructor(name: string, displayString?: string, options: UIApplicationOptions = {}) {
    const { children, ...rest } = options;
    super(name, displayString, rest);
    this._props.variant = options.variant;
    // Added after the registry exists, so their names are indexed and checked.
    if (children !== undefined) this.add(...children);
  }

  override get type(): string {
    return "uiApplication";
  }

  override toJSON(): JsonObject {
    const out = super.toJSON();
    put(out, "variant", this._props.variant);
    return out;
  }
}
tracked(UIApplication, ["variant"]);
