// The value objects of pydoover 1.x's UI (ui/misc.py): ranges, thresholds, plot series, select
// options, confirm dialogs, and the string constants. Each serialises as pydoover's to_dict().
import type { Json } from "../../session.js";
import { isLive, normalize, type UIValue } from "./reference.js";
import { Colour as Colour04 } from "../element.js";

/** Lowercase, spaces to underscores, anything outside [0-9a-zA-Z_] dropped (pydoover's rule). */
export function sanitizeDisplayName(name: string): string {
  return name
    .replace(/ /g, "_")
    .replace(/[^0-9a-zA-Z_]/g, "")
    .toLowerCase();
}

/** pydoover's duration_ms: a duration in seconds to integer milliseconds (truncated). */
export function durationMs(seconds: number): number {
  return Math.trunc(seconds * 1000);
}

/** Sets `out[key]` unless `value` is undefined (pydoover's NotSet); null is written as null. */
export function put(out: Record<string, Json>, key: string, value: UIValue | undefined): void {
  if (value !== undefined) out[key] = normalize(value, key);
}

/** pydoover 1.x's Colour: the 0.4 names plus its `from_hex`/`from_string` pass-throughs. */
export const Colour = {
  ...Colour04,
  fromHex: (hex: string): string => hex,
  fromString: (value: string): string => value,
} as const;

export const RangeView = { line: "line", zone: "zone", off: "off" } as const;
export const Widget = { linear: "linearGauge", radial: "radialGauge", fromString: (v: string): string => v } as const;
export const ApplicationVariant = { submodule: "submodule", stacked: "stacked" } as const;

export interface RangeOptions {
  label?: UIValue;
  minVal?: UIValue;
  maxVal?: UIValue;
  colour?: UIValue;
  showOnGraph?: boolean;
}

/** A coloured band on a variable's plot (pydoover's Range(label, min_val, max_val, colour, show_on_graph)). */
export class Range {
  readonly label: UIValue;
  readonly min: UIValue;
  readonly max: UIValue;
  readonly colour: UIValue;
  readonly showOnGraph: boolean;

  constructor(options: RangeOptions = {}) {
    this.label = options.label ?? null;
    this.min = options.minVal ?? null;
    this.max = options.maxVal ?? null;
    this.colour = options.colour ?? Colour.blue;
    this.showOnGraph = options.showOnGraph ?? true;
  }

  toDict(): Record<string, Json> {
    const out: Record<string, Json> = {
      min: normalize(this.min),
      max: normalize(this.max),
      colour: normalize(this.colour),
      show_on_graph: this.showOnGraph,
    };
    // Python truthiness: an empty or zero label is left out.
    if (this.label !== null && this.label !== "" && this.label !== 0 && this.label !== false) out.label = normalize(this.label);
    return out;
  }
}

/** A horizontal line on a plot (pydoover's Threshold(label, value, colour)). */
export class Threshold {
  constructor(
    readonly label: UIValue,
    readonly value: UIValue,
    readonly colour: UIValue = Colour.blue,
  ) {}

  toDict(): Record<string, Json> {
    return { label: normalize(this.label), value: normalize(this.value, "value"), colour: normalize(this.colour) };
  }
}

export interface SeriesOptions {
  name?: string;
  dataType?: string;
  active?: boolean;
  colour?: string;
  icon?: string;
  sharedAxis?: boolean | string;
  units?: string;
  stepLabels?: string[];
  range?: [UIValue, UIValue];
  ranges?: Range[];
  thresholds?: Threshold[];
}

/** One line of a Multiplot (pydoover's Series(display_name, value, ...)); `value` is usually a tag. */
export class Series {
  readonly name: string;

  constructor(
    readonly displayName: string,
    readonly value: UIValue,
    readonly options: SeriesOptions = {},
  ) {
    this.name = options.name ?? sanitizeDisplayName(displayName);
  }

  toDict(): Record<string, Json> {
    const o = this.options;
    const out: Record<string, Json> = { name: this.name, displayString: this.displayName, dataType: o.dataType ?? "unknown" };
    if (this.value !== null) out.lookup = normalize(this.value, "lookup");
    put(out, "active", o.active);
    put(out, "colour", o.colour);
    put(out, "icon", o.icon);
    put(out, "sharedAxis", o.sharedAxis);
    put(out, "units", o.units);
    put(out, "stepLabels", o.stepLabels);
    if (o.range !== undefined) out.range = { min: normalize(o.range[0]), max: normalize(o.range[1]) };
    if (o.ranges !== undefined) out.ranges = o.ranges.map((r) => r.toDict());
    if (o.thresholds !== undefined) out.thresholds = o.thresholds.map((t) => t.toDict());
    if (isLive(this.value)) out.live = true;
    return out;
  }
}

/** One choice of a Select (pydoover's Option(display_name)). */
export class Option {
  readonly name: string;

  constructor(readonly displayName: string) {
    this.name = sanitizeDisplayName(displayName);
  }

  toDict(): Record<string, Json> {
    return { name: this.name, displayString: this.displayName, type: "uiElement" };
  }
}

/** The audit-reason field of a confirm dialog (pydoover's AuditConfig). */
export class AuditConfig {
  constructor(readonly options: { required?: boolean; label?: string; placeholder?: string } = {}) {}

  toDict(): Record<string, Json> {
    const out: Record<string, Json> = {};
    put(out, "required", this.options.required);
    put(out, "label", this.options.label);
    put(out, "placeholder", this.options.placeholder);
    return out;
  }
}

export interface ConfirmDialogOptions {
  title?: string;
  subtitle?: string;
  warningReason?: string;
  colour?: string;
  helpText?: string;
  icon?: string;
  audit?: boolean | AuditConfig;
}

/** The dialog an interaction shows before sending (pydoover's ConfirmDialog). */
export class ConfirmDialog {
  constructor(readonly options: ConfirmDialogOptions = {}) {}

  toDict(): Record<string, Json> {
    const o = this.options;
    const out: Record<string, Json> = {};
    put(out, "title", o.title);
    put(out, "subtitle", o.subtitle);
    put(out, "warningReason", o.warningReason);
    put(out, "colour", o.colour);
    put(out, "helpText", o.helpText);
    put(out, "icon", o.icon);
    if (o.audit !== undefined) out.audit = o.audit instanceof AuditConfig ? o.audit.toDict() : o.audit;
    return out;
  }
}
