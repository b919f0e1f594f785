// UI elements and their wire form: the module users and the manager import. The elements live
// by concept in element.ts (the base), variables.ts, interactions.ts and containers.ts; each
// class declares its fields once, in wire order, in a field table (fields.ts).
//
// Every element serialises (toJSON) to exactly the dictionary pydoover builds for it, so Doover's
// site and tooling read a tagwire UI unchanged. Reference: getdoover/pydoover tag 0.4.18 (commit
// b90ac3aad4b8, pydoover/ui/{element,variable,interaction,parameter,submodule,misc}.py), the last
// release line whose element types are `uiAction`, `uiFloatParam`, `uiStateCommand` ... (pydoover
// 1.x renamed them to uiButton/uiFloatInput/uiSelect and moved to tag references). One field
// comes from pydoover 1.12.5: `units` (Element.to_dict), which 0.4 lacked.
//
// Rules carried over from pydoover, case by case:
// - Element fields appear in pydoover's order (the order of the field tables); a field whose
//   value is unset is left out (pydoover drops None). `showActivity` defaults to true and
//   `hidden` to false, so both are always present - except on interactions, whose
//   `showActivity` defaults to unset.
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
export { assertUIName, Colour, Widget, ApplicationVariant, UIElement } from "./element.js";
export type { ElementOptions } from "./element.js";
export { roundHalfEven, Variable, NumericVariable, TextVariable, BooleanVariable, DateTimeVariable } from "./variables.js";
export type { ValueRange, VariableOptions, NumericVariableOptions } from "./variables.js";
export {
  Interaction,
  Action,
  StateCommand,
  Slider,
  Parameter,
  NumericParameter,
  TextParameter,
  BooleanParameter,
  DateTimeParameter,
} from "./interactions.js";
export type {
  StateOption,
  InteractionOptions,
  ActionOptions,
  StateCommandOptions,
  SliderOptions,
  NumericParameterOptions,
  TextParameterOptions,
  DateTimeParameterOptions,
} from "./interactions.js";
export { AlertStream, Container, Submodule, UIApplication } from "./containers.js";
export type { ContainerOptions, SubmoduleOptions, UIApplicationOptions } from "./containers.js";
