// Variables: read-only values the app shows (pydoover/ui/variable.py).
import type { Json } from "../session.js";
import { cloneJson, deepEqual, type JsonObject } from "../json.js";
import { Colour, type ElementOptions, UIElement, uiError } from "./element.js";
import { defineFields, derived, type FieldOptions, type FieldValues, optional, withDefault } from "./fields.js";

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

function checkPrecision(precision: number | undefined): number | undefined {
  if (precision === undefined) return precision;
  if (typeof precision !== "number" || !Number.isInteger(precision) || precision < 0 || precision > 20) {
    throw uiError(`precision must be an integer from 0 to 20, got ${String(precision)}`);
  }
  return precision;
}

// Wire order after the element fields: varType, currentValue, decPrecision, earliestDataDate,
// defaultZoom, ranges, units.
const variableFields = {
  varType: derived<Variable>((v): Json => v.varType),
  currentValue: derived<Variable>((v): Json => cloneJson(v.currentValue)),
  /** Decimal places (0..20); values are rounded when set and `decPrecision` is sent. */
  precision: optional<number>({ wire: "decPrecision", check: checkPrecision }),
  /** Sent as `earliestDataDate` in epoch seconds. */
  earliestDataDate: optional<Date | number>({ toWire: (value) => (value === undefined ? undefined : epochSeconds(value)) }),
  defaultZoom: optional<string>(),
  ranges: withDefault<ValueRange[]>([], { toWire: (ranges) => ranges.map(rangeToJSON) }),
  units: optional<string>(),
};

export interface VariableOptions<T> extends ElementOptions, FieldOptions<typeof variableFields> {
  currentValue?: T | null;
}

// biome-ignore lint/correctness/noUnusedVariables: T must match the class it merges with
export interface Variable<T extends Json = Json> extends FieldValues<typeof variableFields> {}

export abstract class Variable<T extends Json = Json> extends UIElement {
  static override readonly fields = defineFields(this, UIElement.fields, variableFields);

  private value: T | null;

  constructor(name: string, displayString: string | undefined, options: VariableOptions<T> = {}) {
    super(name, displayString, options);
    // As pydoover: the initial value is stored as given; rounding applies to later writes.
    this.value = options.currentValue instanceof Date ? (epochSeconds(options.currentValue) as T) : (options.currentValue ?? null);
  }

  get type(): string {
    return "uiVariable";
  }

  /** pydoover's var_type: "float", "string", "bool" or "time". */
  abstract get varType(): string;

  /** The value shown; null when unset. Writing marks the tree dirty only if the value changed. */
  get currentValue(): T | null {
    return this.value;
  }

  set currentValue(value: T | null) {
    const next = this._normalise(value) as T | null;
    if (deepEqual(this.value, next)) return;
    this.value = cloneJson(next);
    this.markDirty();
  }

  /** @internal Rounds numbers to `precision` (Python round), as pydoover's Variable.update does. */
  _normalise(value: unknown): unknown {
    if (this.precision !== undefined && typeof value === "number") return roundHalfEven(value, this.precision);
    return value;
  }

  /** @internal Takes a value found stored in ui_state, without marking the tree dirty (it is already there). */
  _adopt(stored: Json): void {
    this.value = this._normalise(stored) as T | null;
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
