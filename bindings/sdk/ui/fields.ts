// The field tables the 0.4 elements are built from.
//
// Each element class lists its fields once, in wire order, in a table; the constructor options,
// the typed accessors, change tracking and toJSON all read that table, so a field is added or
// changed in one place. A class's full table is its parent's spread with its own entries: an
// entry that redefines a parent field keeps the parent's wire position (JavaScript keeps a key's
// first position), new entries follow.
import type { Json } from "../session.js";
import { cloneJson, type JsonObject } from "../json.js";
import type { UIElement } from "./element.js";

/** A value the element stores, offers as a constructor option and as a tracked property. */
export interface StoredField<T, O> {
  readonly kind: "stored";
  /** Wire key when it differs from the property name; null: kept but never sent. */
  readonly wire?: string | null;
  /** Constructor option (undefined when not given) to stored value. */
  readonly init: (option: O | undefined, element: UIElement) => T;
  /** Validates/normalises a value on its way in (constructor and setter); may throw. */
  readonly check?: (value: T, element: UIElement) => T;
  /** What the getter returns (e.g. a copy, where the stored value must not be edited in place). */
  readonly read?: (value: T) => T;
  /** The wire value; null or undefined leave the key out (pydoover drops None). */
  readonly toWire: (value: T) => Json | undefined;
}

/** A wire entry computed from the element (varType, children, ...); no option, no property. */
export interface DerivedField {
  readonly kind: "derived";
  readonly toWire: (element: never) => Json | undefined;
}

export type AnyField = StoredField<any, any> | DerivedField;
export type FieldTable = Readonly<Record<string, AnyField>>;

type StoredKeys<F> = { [K in keyof F]: F[K] extends StoredField<any, any> ? K : never }[keyof F];

/** The typed properties a table gives its class (merged into the class by an interface). */
export type FieldValues<F> = { -readonly [K in StoredKeys<F>]: F[K] extends StoredField<infer T, any> ? T : never };

/** The constructor options a table accepts. */
export type FieldOptions<F> = { [K in StoredKeys<F>]?: F[K] extends StoredField<any, infer O> ? O : never };

interface FieldSpec<T> {
  wire?: string | null;
  check?: (value: T, element: UIElement) => T;
  read?: (value: T) => T;
  toWire?: (value: T) => Json | undefined;
}

const copy = (value: unknown): Json | undefined => cloneJson(value as Json);

/** A field that is unset (undefined) unless given; null given stays null (and is not sent). */
export function optional<T>(spec: FieldSpec<T | undefined> = {}): StoredField<T | undefined, T> {
  return { kind: "stored", toWire: copy, ...spec, init: (option) => cloneJson(option) };
}

/** A field that takes `fallback` when the option is undefined or null. */
export function withDefault<T>(fallback: T, spec: FieldSpec<T> = {}): StoredField<T, T> {
  return { kind: "stored", toWire: copy, ...spec, init: (option) => cloneJson(option ?? fallback) };
}

/**
 * A wire entry computed from the element at serialisation time (fresh values, not copied). `E`
 * is left unconstrained: checking it against UIElement would make TypeScript resolve the class
 * while it is still typing that class's own table. Annotate the function's return type for the
 * same reason.
 */
export function derived<E>(toWire: (element: E) => Json | undefined): DerivedField {
  return { kind: "derived", toWire: toWire as (element: never) => Json | undefined };
}

/**
 * Defines the tracked accessors of `own`'s stored fields on `cls` and returns the class's full
 * table. Every write that changes a value marks the app's UI tree dirty, so the manager
 * serialises and diffs only after something changed; arrays and objects are copied on the way
 * in, so replace them (ranges, conditions, options) rather than editing them in place, or call
 * `markDirty()` afterwards.
 */
export function defineFields(cls: abstract new (...args: never[]) => UIElement, parent: FieldTable, own: FieldTable): FieldTable {
  for (const [key, field] of Object.entries(own)) {
    if (field.kind !== "stored") continue;
    Object.defineProperty(cls.prototype, key, {
      get(this: UIElement) {
        const value = this._fields[key];
        return field.read ? field.read(value) : value;
      },
      set(this: UIElement, value: unknown) {
        this._write(key, field.check ? field.check(value, this) : value);
      },
      configurable: true,
    });
  }
  return { ...parent, ...own };
}

/** Stores each stored field's initial value from `options`. */
export function initFields(element: UIElement, table: FieldTable, options: Record<string, unknown>): void {
  for (const [key, field] of Object.entries(table)) {
    if (field.kind !== "stored") continue;
    const value = field.init(options[key], element);
    element._fields[key] = field.check ? field.check(value, element) : value;
  }
}

/** Writes the table's entries to `out` in table order, leaving out unset ones. */
export function writeFields(element: UIElement, table: FieldTable, out: JsonObject): JsonObject {
  for (const [key, field] of Object.entries(table)) {
    if (field.kind === "stored" && field.wire === null) continue;
    const value = field.kind === "stored" ? field.toWire(element._fields[key]) : field.toWire(element as never);
    if (value !== undefined && value !== null) out[(field.kind === "stored" && field.wire) || key] = value;
  }
  return out;
}
