// The base of the 0.4 elements: names, the fields every element has, change tracking.
import { TagwireError } from "../../core/errors.js";
import { cloneJson, deepEqual, type JsonObject } from "../json.js";
import type { Container } from "./containers.js";
import {
  defineFields,
  type FieldOptions,
  type FieldTable,
  type FieldValues,
  initFields,
  optional,
  withDefault,
  writeFields,
} from "./fields.js";

const NAME = /^[a-zA-Z0-9_-]+$/;
const MAX_NAME_LENGTH = 255;

/** Throws TAGWIRE_ERR_NAME unless `name` matches ^[a-zA-Z0-9_-]+$ (1..255 characters). */
export function assertUIName(name: unknown, what = "UI element name"): asserts name is string {
  if (typeof name !== "string" || name.length === 0 || name.length > MAX_NAME_LENGTH || !NAME.test(name)) {
    throw new TagwireError(
      "TAGWIRE_ERR_NAME",
      `invalid ${what} ${JSON.stringify(name)}: must match ^[a-zA-Z0-9_-]+$ (1..${MAX_NAME_LENGTH} chars)`,
    );
  }
}

export function uiError(message: string): TagwireError {
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

// pydoover's Element keyword arguments, in wire spelling and order.
const elementFields = {
  displayString: optional<string>(),
  isAvailable: optional<boolean>(),
  helpString: optional<string>(),
  verboseString: optional<string>(),
  // Always sent unless an element class unsets it (interactions do).
  showActivity: withDefault<boolean | undefined>(true),
  form: optional<string>(),
  graphic: optional<string>(),
  layout: optional<string>(),
  componentUrl: optional<string>(),
  /** Display order; a container assigns 101, 102, ... when unset. */
  position: optional<number>(),
  conditions: optional<JsonObject>(),
  hidden: withDefault<boolean>(false),
};

/** Fields every element accepts (pydoover's Element keyword arguments, in wire spelling). */
export interface ElementOptions extends Omit<FieldOptions<typeof elementFields>, "displayString"> {}

export interface UIElement extends FieldValues<typeof elementFields> {}

export abstract class UIElement {
  /** @internal The class's field table (see fields.ts). */
  static readonly fields: FieldTable = defineFields(this, {}, elementFields);

  readonly name: string;
  /** @internal Set by Container.add/remove. */
  _parent: Container | null = null;
  /** @internal Stored field values, read and written through the accessors the tables define. */
  readonly _fields: Record<string, unknown> = {};
  /** @internal Set on a root container by its UIManager: called when anything below changes. */
  _onChange: (() => void) | null = null;

  constructor(name: string, displayString: string | undefined, options: ElementOptions = {}) {
    assertUIName(name);
    this.name = name;
    initFields(this, (this.constructor as typeof UIElement).fields, { ...options, displayString });
  }

  /** The container holding this element, if any. */
  get parent(): Container | null {
    return this._parent;
  }

  /** pydoover's element type string, e.g. "uiVariable". */
  abstract get type(): string;

  /** The wire form (pydoover's to_dict). */
  toJSON(): JsonObject {
    return writeFields(this, (this.constructor as typeof UIElement).fields, { name: this.name, type: this.type });
  }

  /** Marks the tree this element belongs to as changed. */
  markDirty(): void {
    let node: UIElement = this;
    while (node.parent !== null) node = node.parent;
    node._onChange?.();
  }

  /** @internal Stores a field's new value; marks the tree dirty only if it changed. */
  _write(key: string, value: unknown): void {
    if (deepEqual(this._fields[key], value)) return;
    this._fields[key] = cloneJson(value);
    this.markDirty();
  }
}
