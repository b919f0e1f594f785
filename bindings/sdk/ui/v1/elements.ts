// pydoover 1.x's UI element set (ui/element.py, variable.py, interaction.py, parameter.py,
// submodule.py, camera.py), one typed class per element. Class names are pydoover's; options are
// the camelCase of its keyword arguments, so a pydoover UI ports line by line:
//   NumericVariable("Temperature", value=tags.temp, precision=1)
//   new NumericVariable("Temperature", { value: tags.temp, precision: 1 })
// toDict() writes the keys pydoover's to_dict() writes, in its order, with its defaults: an
// option left undefined is pydoover's NotSet (not written), null is Python's None (written as
// null where pydoover writes it). Checked against pydoover's own output in
// test/sdk.ui-1x.test.ts (fixtures in test/fixtures/pydoover-1x/).
import { TagwireError } from "../../../core/errors.js";
import type { Json } from "../../session.js";
import {
  AuditConfig,
  ConfirmDialog,
  durationMs,
  type Option,
  put,
  type Range,
  sanitizeDisplayName,
  type Series,
  type Threshold,
} from "./misc.js";
import { isLive, isTagLike, normalize, pythonStr, tagRef, type UIValue } from "./reference.js";

export type Dict = Record<string, Json>;
const VALID_NAME = /^[0-9a-zA-Z_]+$/;

// pydoover numbers elements in construction order from a process-wide counter starting at 50,
// so a schema built in the same order gets the same positions.
let positionCounter = 50;

/** Restarts automatic positions as a fresh pydoover process would (tests, schema rebuilds). */
export function resetPositions(start = 50): void {
  positionCounter = start;
}

export interface ElementOptions {
  name?: string;
  isAvailable?: UIValue;
  helpStr?: UIValue;
  verboseStr?: UIValue;
  showActivity?: UIValue;
  form?: UIValue;
  graphic?: UIValue;
  layout?: UIValue;
  componentUrl?: UIValue;
  position?: UIValue;
  conditions?: UIValue;
  hidden?: UIValue;
  units?: UIValue;
  icon?: UIValue;
  colour?: UIValue;
}

/** pydoover's Element: the fields every element has. */
export class Element {
  static readonly type: string = "uiElement";
  name: string;
  displayName: UIValue;
  isAvailable: UIValue | undefined;
  helpStr: UIValue | undefined;
  verboseStr: UIValue | undefined;
  showActivity: UIValue | undefined;
  form: UIValue | undefined;
  graphic: UIValue | undefined;
  layout: UIValue | undefined;
  componentUrl: UIValue | undefined;
  position: UIValue;
  conditions: UIValue | undefined;
  hidden: UIValue | undefined;
  units: UIValue | undefined;
  icon: UIValue | undefined;
  colour: UIValue | undefined;
  parent: Container | undefined;

  constructor(displayName: UIValue, options: ElementOptions = {}) {
    this.displayName = displayName;
    this.isAvailable = options.isAvailable;
    this.helpStr = options.helpStr;
    this.verboseStr = options.verboseStr;
    this.showActivity = "showActivity" in options ? options.showActivity : true;
    this.form = options.form;
    this.graphic = options.graphic;
    this.layout = options.layout;
    this.componentUrl = options.componentUrl;
    positionCounter += 1;
    this.position = options.position === undefined ? positionCounter : options.position;
    this.conditions = options.conditions;
    this.hidden = "hidden" in options ? options.hidden : false;
    this.units = options.units;
    this.icon = options.icon;
    this.colour = options.colour;
    this.name = options.name || sanitizeDisplayName(typeof displayName === "string" ? displayName : "");
    if (!VALID_NAME.test(this.name))
      throw new TagwireError("TAGWIRE_ERR_ARGUMENT", `invalid element name ${JSON.stringify(this.name)}: must be [a-zA-Z0-9_]`);
  }

  get type(): string {
    return (this.constructor as typeof Element).type;
  }

  toDict(): Dict {
    const fields: [string, UIValue | undefined][] = [
      ["name", this.name],
      ["type", this.type],
      ["displayString", this.displayName],
      ["isAvailable", this.isAvailable],
      ["helpString", this.helpStr],
      ["verboseString", this.verboseStr],
      ["showActivity", this.showActivity],
      ["form", this.form],
      ["graphic", this.graphic],
      ["layout", this.layout],
      ["componentUrl", this.componentUrl],
      ["position", this.position],
      ["conditions", this.conditions],
      ["hidden", this.hidden],
      ["units", this.units],
      ["icon", this.icon],
      ["colour", this.colour],
    ];
    const out: Dict = {};
    for (const [key, value] of fields) if (value !== undefined && value !== null) out[key] = normalize(value, key);
    return out;
  }
}

// ------------------------------------------------------------------ variables

export interface VariableOptions extends ElementOptions {
  value?: UIValue;
  precision?: UIValue;
  ranges?: Range[];
  thresholds?: Threshold[];
  defaultRangeView?: UIValue;
  /** A Date, or a number written as is (pydoover writes epoch seconds for a datetime). */
  earliestDataTime?: Date | UIValue;
  /** Seconds (pydoover's timedelta); written as whole seconds times 1000. */
  defaultRangeSince?: number;
  defaultZoom?: UIValue;
  logThreshold?: number | null;
  graphable?: UIValue;
}

/** A read-only value shown by the dashboard (pydoover's Variable). */
export class Variable extends Element {
  static override readonly type: string = "uiVariable";
  varType: string;
  value: UIValue | undefined;
  precision: UIValue | undefined;
  options: VariableOptions;

  constructor(displayName: UIValue, varType: string, options: VariableOptions = {}) {
    super(displayName, options);
    this.varType = varType;
    this.value = options.value;
    this.precision = options.precision;
    this.options = options;
  }

  override toDict(): Dict {
    const o = this.options;
    const out = super.toDict();
    out.type = this.type;
    out.varType = this.varType;
    put(out, "currentValue", this.value);
    put(out, "decPrecision", this.precision);
    if (o.earliestDataTime !== undefined) {
      out.earliestDataDate =
        o.earliestDataTime instanceof Date ? Math.trunc(o.earliestDataTime.getTime() / 1000) : normalize(o.earliestDataTime);
    }
    if (o.defaultRangeSince !== undefined) out.defaultRangeSince = Math.trunc(o.defaultRangeSince) * 1000;
    put(out, "defaultZoom", o.defaultZoom);
    if (o.ranges !== undefined) out.ranges = o.ranges.map((r) => r.toDict());
    if (o.thresholds !== undefined) out.thresholds = o.thresholds.map((t) => t.toDict());
    put(out, "defaultRangeView", o.defaultRangeView);
    if (o.graphable !== undefined) out.notGraphable = typeof o.graphable === "boolean" ? !o.graphable : normalize(o.graphable);
    if (isLive(this.value)) out.live = true;
    return out;
  }
}

/** pydoover's NumericVariable (varType "float"); `value` defaults to null as in pydoover. */
export class NumericVariable extends Variable {
  constructor(displayName: UIValue, options: VariableOptions = {}) {
    super(displayName, "float", { ...options, value: "value" in options ? options.value : null });
  }
}

/** pydoover's TextVariable (varType "string"). */
export class TextVariable extends Variable {
  constructor(displayName: UIValue, options: VariableOptions & { value: UIValue }) {
    super(displayName, "string", options);
  }
}

/** pydoover's BooleanVariable (varType "bool"). */
export class BooleanVariable extends Variable {
  constructor(displayName: UIValue, options: VariableOptions & { value: UIValue }) {
    super(displayName, "bool", { logThreshold: 0, ...options });
  }
}

/** pydoover's DateTimeVariable (varType "time"). */
export class DateTimeVariable extends Variable {
  constructor(displayName: UIValue, options: VariableOptions & { value: UIValue }) {
    super(displayName, "time", options);
  }
}

export interface TimestampOptions extends Omit<VariableOptions, "precision"> {
  /** How often the relative label refreshes: "second" or "minute". */
  precision?: UIValue;
  absoluteFormat?: UIValue;
}

/** pydoover's Timestamp (uiTimestamp): a Date value is written in epoch milliseconds. */
export class Timestamp extends Variable {
  static override readonly type: string = "uiTimestamp";
  absoluteFormat: UIValue | undefined;

  constructor(displayName: UIValue, options: TimestampOptions = {}) {
    super(displayName, "timestamp", options);
    this.absoluteFormat = options.absoluteFormat;
  }

  override toDict(): Dict {
    const out = super.toDict();
    if (this.value instanceof Date) out.currentValue = this.value.getTime();
    else put(out, "currentValue", this.value);
    put(out, "precision", this.precision);
    put(out, "absoluteFormat", this.absoluteFormat);
    return out;
  }
}

// ------------------------------------------------------------------ interactions

export interface InteractionOptions extends ElementOptions {
  /** Where the value lives; default `$cmds.app().<name>` (with `::default` when a default is set). */
  value?: string;
  default?: Json;
  requiresConfirm?: boolean | ConfirmDialog;
  globalInteraction?: UIValue;
  /** Seconds. */
  commandTimeout?: number;
  /** Seconds. */
  commandRetryTimeout?: number;
  direct?: UIValue;
}

/** pydoover's Interaction: an element the user acts on; its value lives in `ui_cmds`. */
export class Interaction extends Element {
  static override readonly type: string = "uiInteraction";
  readonly default: Json | undefined;
  readonly valueLocation: string;
  readonly interactionOptions: InteractionOptions;

  constructor(displayName: UIValue, options: InteractionOptions = {}) {
    super(displayName, { ...options, showActivity: true });
    this.showActivity = options.showActivity;
    this.default = options.default;
    let location = options.value;
    if (location === undefined) {
      location = `$cmds.app().${this.name}`;
      if (this.default !== undefined) location += `::${pythonStr(this.default)}`;
    }
    this.valueLocation = location;
    this.interactionOptions = options;
  }

  override toDict(): Dict {
    const o = this.interactionOptions;
    const out = super.toDict();
    out.currentValue = this.valueLocation;
    if (o.requiresConfirm !== undefined)
      out.requiresConfirm = o.requiresConfirm instanceof ConfirmDialog ? o.requiresConfirm.toDict() : o.requiresConfirm;
    put(out, "global", o.globalInteraction);
    if (o.commandTimeout !== undefined) out.commandTimeout = durationMs(o.commandTimeout);
    if (o.commandRetryTimeout !== undefined) out.commandRetryTimeout = durationMs(o.commandRetryTimeout);
    put(out, "direct", o.direct);
    put(out, "showActivity", this.showActivity);
    put(out, "default", this.default);
    return out;
  }
}

export interface ButtonOptions extends InteractionOptions {
  disabled?: UIValue;
  labelString?: UIValue;
}

/** pydoover's Button (uiButton). */
export class Button extends Interaction {
  static override readonly type: string = "uiButton";
  constructor(
    displayName: UIValue,
    readonly buttonOptions: ButtonOptions = {},
  ) {
    super(displayName, buttonOptions);
  }

  override toDict(): Dict {
    const out = super.toDict();
    put(out, "disabled", this.buttonOptions.disabled);
    put(out, "labelString", this.buttonOptions.labelString);
    return out;
  }
}

/** pydoover's WarningIndicator (uiWarningIndicator); `canCancel` is written as `can_cancel`. */
export class WarningIndicator extends Interaction {
  static override readonly type: string = "uiWarningIndicator";
  constructor(
    displayName: UIValue,
    readonly warningOptions: InteractionOptions & { canCancel?: UIValue } = {},
  ) {
    super(displayName, warningOptions);
  }

  override toDict(): Dict {
    const out = super.toDict();
    out.can_cancel = normalize(this.warningOptions.canCancel ?? true);
    return out;
  }
}

/** pydoover's Select (uiSelect) with its options keyed by name. */
export class Select extends Interaction {
  static override readonly type: string = "uiSelect";
  constructor(
    displayName: UIValue,
    readonly selectOptions: InteractionOptions & { options: Option[] },
  ) {
    super(displayName, selectOptions);
  }

  override toDict(): Dict {
    const out = super.toDict();
    const options: Dict = {};
    for (const o of this.selectOptions.options) options[o.name] = o.toDict();
    out.options = options;
    return out;
  }
}

export interface SliderOptions extends InteractionOptions {
  minVal?: UIValue;
  maxVal?: UIValue;
  stepSize?: UIValue;
  dualSlider?: UIValue;
  inverted?: UIValue;
  colours?: UIValue;
}

/** pydoover's Slider (uiSlider): min 0, max 100, step 0.1, dual and inverted by default. */
export class Slider extends Interaction {
  static override readonly type: string = "uiSlider";
  constructor(
    displayName: UIValue,
    readonly sliderOptions: SliderOptions = {},
  ) {
    super(displayName, sliderOptions);
  }

  override toDict(): Dict {
    const o = this.sliderOptions;
    const out = super.toDict();
    out.min = normalize(o.minVal ?? 0);
    out.max = normalize(o.maxVal ?? 100);
    out.stepSize = normalize(o.stepSize ?? 0.1);
    out.dualSlider = normalize(o.dualSlider ?? true);
    out.isInverted = normalize(o.inverted ?? true);
    put(out, "colours", o.colours);
    return out;
  }
}

/** pydoover's Switch (uiSwitch). */
export class Switch extends Interaction {
  static override readonly type: string = "uiSwitch";
}

/** pydoover's FloatInput (uiFloatInput). */
export class FloatInput extends Interaction {
  static override readonly type: string = "uiFloatInput";
  constructor(
    displayName: UIValue,
    readonly inputOptions: InteractionOptions & { minVal?: UIValue; maxVal?: UIValue } = {},
  ) {
    super(displayName, inputOptions);
  }

  override toDict(): Dict {
    const out = super.toDict();
    put(out, "min", this.inputOptions.minVal);
    put(out, "max", this.inputOptions.maxVal);
    return out;
  }
}

/** pydoover's TextInput (uiTextInput); `isTextArea` is always written. */
export class TextInput extends Interaction {
  static override readonly type: string = "uiTextInput";
  constructor(
    displayName: UIValue,
    readonly inputOptions: InteractionOptions & { isTextArea?: boolean } = {},
  ) {
    super(displayName, inputOptions);
  }

  override toDict(): Dict {
    const out = super.toDict();
    out.isTextArea = this.inputOptions.isTextArea ?? false;
    return out;
  }
}

export interface DatetimeInputOptions extends InteractionOptions {
  /** Legacy: true means pickers ["date", "time"], false ["date"]. */
  includeTime?: boolean;
  pickers?: string[];
  direction?: UIValue;
  /** Seconds. */
  maxPast?: number;
  /** Seconds. */
  maxFuture?: number;
}

/** pydoover's DatetimeInput (uiDatetimeInput). */
export class DatetimeInput extends Interaction {
  static override readonly type: string = "uiDatetimeInput";
  readonly pickers: string[] | undefined;
  constructor(
    displayName: UIValue,
    readonly inputOptions: DatetimeInputOptions = {},
  ) {
    super(displayName, inputOptions);
    let pickers = inputOptions.pickers;
    if (inputOptions.includeTime !== undefined && pickers === undefined) pickers = inputOptions.includeTime ? ["date", "time"] : ["date"];
    this.pickers = pickers;
  }

  override toDict(): Dict {
    const o = this.inputOptions;
    const out = super.toDict();
    put(out, "pickers", this.pickers);
    put(out, "direction", o.direction);
    if (o.maxPast !== undefined) out.maxPast = durationMs(o.maxPast);
    if (o.maxFuture !== undefined) out.maxFuture = durationMs(o.maxFuture);
    return out;
  }
}

/** pydoover's TimeInput (uiTimeInput): seconds into the local day. */
export class TimeInput extends DatetimeInput {
  static override readonly type: string = "uiTimeInput";
}

// ------------------------------------------------------------------ containers

export interface ContainerOptions extends ElementOptions {
  children?: Element[];
}

/** pydoover's Container: children keyed by name; a child without a position gets 101, 102, ... */
export class Container extends Element {
  static override readonly type: string = "uiContainer";
  readonly children = new Map<string, Element>();
  private maxPosition = 101;

  constructor(displayName: UIValue, options: ContainerOptions = {}) {
    super(displayName, options);
    this.addChildren(...(options.children ?? []));
  }

  addChildren(...children: Element[]): this {
    for (const c of children) {
      if (!/^[a-zA-Z0-9_-]+$/.test(c.name))
        throw new TagwireError("TAGWIRE_ERR_ARGUMENT", `invalid name ${JSON.stringify(c.name)} for a child element`);
      this.children.set(c.name, c);
      c.parent = this;
      if (!c.position) c.position = this.maxPosition++;
    }
    return this;
  }

  removeChildren(...children: Element[]): void {
    for (const c of children) this.children.delete(c.name);
    for (const c of this.children.values()) if (c instanceof Container) c.removeChildren(...children);
  }

  override toDict(): Dict {
    const out = super.toDict();
    const children: Dict = {};
    for (const [name, c] of this.children) children[name] = c.toDict();
    out.children = children;
    return out;
  }
}

export interface SubmoduleOptions extends ContainerOptions {
  status?: UIValue;
  isCollapsed?: boolean;
  /** Open when the page loads; may be a tag reference (isCollapsed is only a boolean). */
  defaultOpen?: UIValue;
}

/** pydoover's Submodule (uiSubmodule). */
export class Submodule extends Container {
  static override readonly type: string = "uiSubmodule";
  constructor(
    displayName: UIValue,
    readonly submoduleOptions: SubmoduleOptions = {},
  ) {
    super(displayName, submoduleOptions);
  }

  override toDict(): Dict {
    const o = this.submoduleOptions;
    const out = super.toDict();
    put(out, "statusString", o.status);
    if (o.defaultOpen !== undefined) put(out, "defaultOpen", o.defaultOpen);
    else if (o.isCollapsed !== undefined) out.defaultOpen = !o.isCollapsed;
    return out;
  }
}

/** pydoover's Application container (uiApplication). */
export class Application extends Container {
  static override readonly type: string = "uiApplication";
  constructor(
    displayName: UIValue,
    readonly applicationOptions: ContainerOptions & { variant?: UIValue; fullWidth?: UIValue } = {},
  ) {
    super(displayName, applicationOptions);
  }

  override toDict(): Dict {
    const out = super.toDict();
    put(out, "variant", this.applicationOptions.variant);
    put(out, "fullWidth", this.applicationOptions.fullWidth);
    return out;
  }
}

/**
 * pydoover's RemoteComponent (uiRemoteComponent). pydoover copies its extra keyword arguments
 * into the output verbatim (snake_case keys); `extra` is that dictionary.
 */
export class RemoteComponent extends Container {
  static override readonly type: string = "uiRemoteComponent";
  constructor(
    displayName: UIValue,
    componentUrl: UIValue,
    readonly remoteOptions: ContainerOptions & { extra?: Record<string, UIValue> } = {},
  ) {
    super(displayName, { ...remoteOptions, componentUrl });
  }

  override toDict(): Dict {
    const out = super.toDict();
    for (const [k, v] of Object.entries(this.remoteOptions.extra ?? {})) out[k] = normalize(v, k);
    return out;
  }
}

/** pydoover's TabContainer (uiTabs). */
export class TabContainer extends Container {
  static override readonly type: string = "uiTabs";
  constructor(
    displayName: UIValue,
    readonly tabOptions: ContainerOptions & { defaultPage?: UIValue } = {},
  ) {
    super(displayName, tabOptions);
  }

  override toDict(): Dict {
    const out = super.toDict();
    put(out, "defaultPage", this.tabOptions.defaultPage);
    return out;
  }
}

// ------------------------------------------------------------------ special elements

export type ConnectionType = "constant" | "periodic" | "other";

export interface ConnectionInfoOptions extends ElementOptions {
  connectionType?: ConnectionType;
  connectionPeriod?: number | null;
  nextConnection?: number | null;
  offlineAfter?: number | null;
  allowedMisses?: number | null;
}

/** pydoover's ConnectionInfo (uiConnectionInfo); only its own fields are written. */
export class ConnectionInfo extends Element {
  static override readonly type: string = "uiConnectionInfo";
  constructor(
    name = "connectionInfo",
    readonly connectionOptions: ConnectionInfoOptions = {},
  ) {
    super(name, { ...connectionOptions, name, isAvailable: null });
    const o = connectionOptions;
    if (
      (o.connectionType ?? "constant") !== "periodic" &&
      (o.connectionPeriod != null || o.nextConnection != null || o.allowedMisses != null)
    ) {
      throw new TagwireError(
        "TAGWIRE_ERR_ARGUMENT",
        "connectionType must be periodic to set connectionPeriod, nextConnection or allowedMisses",
      );
    }
  }

  override toDict(): Dict {
    const o = this.connectionOptions;
    const out: Dict = { name: this.name, type: this.type, connectionType: o.connectionType ?? "constant" };
    if (o.connectionPeriod != null) out.connectionPeriod = o.connectionPeriod;
    if (o.nextConnection != null) out.nextConnection = o.nextConnection;
    if (o.offlineAfter != null) out.offlineAfter = o.offlineAfter;
    if (o.allowedMisses != null) out.allowedMisses = o.allowedMisses;
    return out;
  }
}

export interface MultiplotOptions extends ElementOptions {
  earliestDataTime?: Date | UIValue;
  defaultZoom?: UIValue;
  defaultRangeView?: UIValue;
}

/** pydoover's Multiplot (uiMultiPlot): series keyed by name. */
export class Multiplot extends Element {
  static override readonly type: string = "uiMultiPlot";
  constructor(
    readonly title: string,
    readonly series: Series[],
    readonly plotOptions: MultiplotOptions = {},
  ) {
    super(title, plotOptions);
  }

  override toDict(): Dict {
    const o = this.plotOptions;
    const out = super.toDict();
    const series: Dict = {};
    for (const s of this.series) series[s.name] = s.toDict();
    out.series = series;
    if (o.defaultZoom != null) out.defaultZoom = normalize(o.defaultZoom);
    if (o.defaultRangeView != null) out.defaultRangeView = normalize(o.defaultRangeView);
    out.title = this.title;
    if (o.earliestDataTime != null) {
      out.earliestDataDate =
        o.earliestDataTime instanceof Date ? Math.trunc(o.earliestDataTime.getTime() / 1000) : normalize(o.earliestDataTime);
    }
    return out;
  }
}

/** pydoover's CameraLiveView (uiCameraLiveView). */
export class CameraLiveView extends Element {
  static override readonly type: string = "uiCameraLiveView";
  presets: Json[] = [];
  activePreset: Json = null;
  constructor(
    readonly cameraName: string,
    readonly streamName: string,
    readonly allowPtzControl: boolean,
    options: ElementOptions & { displayName?: string } = {},
  ) {
    super(options.displayName ?? "Live View", options);
  }

  override toDict(): Dict {
    const out = super.toDict();
    out.cameraName = this.cameraName;
    out.streamName = this.streamName;
    out.ptzControl = this.allowPtzControl;
    out.presets = this.presets;
    out.activePreset = this.activePreset;
    return out;
  }
}

/** pydoover's CameraHistory (uiCameraHistory). */
export class CameraHistory extends Element {
  static override readonly type: string = "uiCameraHistory";
  presets: Json[] = [];
  activePreset: Json = null;
  constructor(
    readonly cameraName: string,
    options: ElementOptions & { displayName?: string } = {},
  ) {
    super(options.displayName ?? "History", options);
  }

  override toDict(): Dict {
    const out = super.toDict();
    out.cameraName = this.cameraName;
    out.ptzControl = true;
    out.presets = this.presets;
    out.activePreset = this.activePreset;
    return out;
  }
}

export { AuditConfig, ConfirmDialog, isTagLike, tagRef };
