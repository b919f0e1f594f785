// Interactions: elements a user writes to; their values travel on `ui_cmds`
// (pydoover/ui/interaction.py and parameter.py).
import type { Json } from "../session.js";
import { cloneJson, deepEqual, type JsonObject } from "../json.js";
import { assertUIName, Colour, type ElementOptions, UIElement, uiError } from "./element.js";
import { defineFields, derived, type FieldOptions, type FieldValues, optional, withDefault } from "./fields.js";

/** One choice of a StateCommand; wire form `{name, displayString, type: "uiElement"}`. */
export interface StateOption {
  name: string;
  displayString: string;
}

const interactionFields = {
  // pydoover's Interaction leaves show_activity unset unless given.
  showActivity: optional<boolean>(),
  /** What `currentValue` reads while no value is set, and what a cleared command falls back to. */
  default: optional<Json>({ wire: null }),
  // Only a value actually set is sent, never the default.
  currentValue: derived<Interaction>((i): Json => cloneJson(i._value ?? null)),
};

export interface InteractionOptions extends ElementOptions, FieldOptions<typeof interactionFields> {
  /** An initial value (sent as `currentValue`). */
  currentValue?: Json;
}

export interface Interaction extends FieldValues<typeof interactionFields> {}

export abstract class Interaction extends UIElement {
  static override readonly fields = defineFields(this, UIElement.fields, interactionFields);

  /** @internal The value last received or coerced; undefined while none is set. */
  _value: Json | undefined;

  constructor(name: string, displayString: string | undefined, options: InteractionOptions = {}) {
    super(name, displayString, options);
    this._value = cloneJson(options.currentValue);
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
    if (this._value === undefined) return this.default ?? null;
    return this._value;
  }

  /**
   * @internal A value arrived (or was coerced). Like pydoover's transform_check, a cleared value
   * (null) falls back to the default.
   */
  _receive(value: Json): void {
    const next = value === null && this.default !== undefined ? this.default : value;
    if (deepEqual(this._value, next)) return;
    this._value = cloneJson(next);
    this.markDirty();
  }
}

const actionFields = {
  /** Default `Colour.blue`. */
  colour: withDefault<string>(Colour.blue, { toWire: String }),
  /** Ask the user to confirm before sending; default true. */
  requiresConfirm: withDefault<boolean>(true),
  /** Default false. */
  disabled: withDefault<boolean>(false),
};

export interface ActionOptions extends InteractionOptions, FieldOptions<typeof actionFields> {}

export interface Action extends FieldValues<typeof actionFields> {}

/** A button (`uiAction`). Its command value is set when pressed; clear it with coerce(name, null). */
export class Action extends Interaction {
  static override readonly fields = defineFields(this, Interaction.fields, actionFields);

  constructor(name: string, displayString?: string, options: ActionOptions = {}) {
    super(name, displayString, options);
  }

  override get type(): string {
    return "uiAction";
  }
}

function checkStateOptions(options: StateOption[], element: UIElement): StateOption[] {
  const seen = new Set<string>();
  for (const option of options) {
    assertUIName(option.name, "state option name");
    if (seen.has(option.name)) throw uiError(`duplicate state option ${JSON.stringify(option.name)} in ${element.name}`);
    seen.add(option.name);
  }
  return options.map((o) => ({ name: o.name, displayString: o.displayString }));
}

function userOptions(options: StateOption[]): JsonObject {
  const out: JsonObject = {};
  for (const o of options) out[o.name] = { name: o.name, displayString: o.displayString, type: "uiElement" };
  return out;
}

const stateCommandFields = {
  /** The choices; sent as `userOptions` keyed by option name. */
  options: withDefault<StateOption[]>([], { wire: "userOptions", check: checkStateOptions, read: cloneJson, toWire: userOptions }),
};

export interface StateCommandOptions extends InteractionOptions, FieldOptions<typeof stateCommandFields> {}

export interface StateCommand extends FieldValues<typeof stateCommandFields> {}

/** A drop-down of states (`uiStateCommand`). */
export class StateCommand extends Interaction {
  static override readonly fields = defineFields(this, Interaction.fields, stateCommandFields);

  constructor(name: string, displayString?: string, options: StateCommandOptions = {}) {
    super(name, displayString, options);
  }

  override get type(): string {
    return "uiStateCommand";
  }
}

// pydoover omits empty icon/colours (a null would delete them in a diff).
const unlessEmpty = (value: string | undefined): Json | undefined => value || undefined;

const sliderFields = {
  /** Default 0. */
  min: withDefault<number>(0),
  /** Default 100. */
  max: withDefault<number>(100),
  /** Default 0.1. */
  stepSize: withDefault<number>(0.1),
  /** Two handles; default true (pydoover's default). */
  dualSlider: withDefault<boolean>(true),
  /** Sent as `isInverted`; default true (pydoover's default). */
  inverted: withDefault<boolean>(true, { wire: "isInverted" }),
  icon: optional<string>({ toWire: unlessEmpty }),
  /** e.g. "red,green,blue". */
  colours: optional<string>({ toWire: unlessEmpty }),
};

export interface SliderOptions extends InteractionOptions, FieldOptions<typeof sliderFields> {}

export interface Slider extends FieldValues<typeof sliderFields> {}

/** A slider (`uiSlider`). */
export class Slider extends Interaction {
  static override readonly fields = defineFields(this, Interaction.fields, sliderFields);

  constructor(name: string, displayString?: string, options: SliderOptions = {}) {
    super(name, displayString, options);
  }

  override get type(): string {
    return "uiSlider";
  }
}

/** Base of the parameters: values a user edits (pydoover/ui/parameter.py). */
export abstract class Parameter extends Interaction {}

const numericParameterFields = {
  min: optional<number>(),
  max: optional<number>(),
};

export interface NumericParameterOptions extends InteractionOptions, FieldOptions<typeof numericParameterFields> {}

export interface NumericParameter extends FieldValues<typeof numericParameterFields> {}

/** A number input (`uiFloatParam`). */
export class NumericParameter extends Parameter {
  static override readonly fields = defineFields(this, Parameter.fields, numericParameterFields);

  constructor(name: string, displayString?: string, options: NumericParameterOptions = {}) {
    super(name, displayString, options);
  }

  override get type(): string {
    return "uiFloatParam";
  }
}

const textParameterFields = {
  /** A multi-line text area; default false. */
  isTextArea: withDefault<boolean>(false),
};

export interface TextParameterOptions extends InteractionOptions, FieldOptions<typeof textParameterFields> {}

export interface TextParameter extends FieldValues<typeof textParameterFields> {}

/** A text input (`uiTextParam`). */
export class TextParameter extends Parameter {
  static override readonly fields = defineFields(this, Parameter.fields, textParameterFields);

  constructor(name: string, displayString?: string, options: TextParameterOptions = {}) {
    super(name, displayString, options);
  }

  override get type(): string {
    return "uiTextParam";
  }
}

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

const dateTimeParameterFields = {
  /** Offer a time picker as well as a date; default false. */
  includeTime: withDefault<boolean>(false),
};

export interface DateTimeParameterOptions extends InteractionOptions, FieldOptions<typeof dateTimeParameterFields> {}

export interface DateTimeParameter extends FieldValues<typeof dateTimeParameterFields> {}

/** A date(/time) input (`uiDatetimeParam`); values are epoch seconds. */
export class DateTimeParameter extends Parameter {
  static override readonly fields = defineFields(this, Parameter.fields, dateTimeParameterFields);

  constructor(name: string, displayString?: string, options: DateTimeParameterOptions = {}) {
    super(name, displayString, options);
  }

  override get type(): string {
    return "uiDatetimeParam";
  }
}
