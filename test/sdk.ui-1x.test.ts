// pydoover 1.x compatibility of the declarative UI and declared tags, against output produced by
// running pydoover itself (test/fixtures/pydoover-1x/, scripts/golden/pydoover_ui.py). Each case
// below is the pydoover case of the same id written with tagwire's classes, line by line.
// Element output is compared as JSON text, so key order counts.
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { Application, LocalBus, tags as T, ui1x as ui, type Json } from "../bindings/index.js";

const dir = new URL("./fixtures/pydoover-1x/", import.meta.url);
const elements = JSON.parse(readFileSync(new URL("elements.json", dir), "utf8")) as Record<string, Json>;
interface TagStep {
  set: Json;
  logged?: boolean;
  get?: Json;
  get_before?: Json;
}
const tagCases = JSON.parse(readFileSync(new URL("tags.json", dir), "utf8")) as Record<string, { declaration: Json; steps: TagStep[] }>;

const TEMP = new T.Number({ default: 20.5, name: "temp", live: true });
const MODE = new T.String({ default: "auto", name: "mode" });
const ON = new T.Boolean({ name: "on" });
const utc = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0, ms = 0) => new Date(Date.UTC(y, mo - 1, d, h, mi, s, ms));

const CASES: Record<string, () => { toDict(): Json } | { toSchema(): Json }> = {
  element_minimal: () => new ui.Element("Plain Thing"),
  element_all: () =>
    new ui.Element("All Fields", {
      isAvailable: true,
      helpStr: "help",
      verboseStr: "verbose",
      showActivity: false,
      form: "f",
      graphic: "g",
      layout: "l",
      componentUrl: "u",
      position: 7,
      conditions: { a: 1 },
      hidden: true,
      units: "m",
      icon: "i",
      colour: "red",
      name: "explicit_name",
    }),
  element_nones: () => new ui.Element("Nones", { isAvailable: null, helpStr: null, hidden: null }),
  numeric_default: () => new ui.NumericVariable("Temperature"),
  numeric_value: () => new ui.NumericVariable("Temperature", { value: 21.5, precision: 1, units: "°C" }),
  numeric_tag: () => new ui.NumericVariable("Temperature", { value: TEMP, precision: 2, form: ui.Widget.radial }),
  numeric_ranges: () =>
    new ui.NumericVariable("Pressure", {
      value: ui.tagRef("pressure", "float", 0),
      ranges: [
        new ui.Range({ label: "Low", minVal: 0, maxVal: 10, colour: ui.Colour.red }),
        new ui.Range({ label: null, minVal: 10, maxVal: 20, showOnGraph: false }),
      ],
      thresholds: [new ui.Threshold("Max", 18, ui.Colour.orange)],
      defaultRangeView: ui.RangeView.zone,
    }),
  numeric_options: () =>
    new ui.NumericVariable("Flow", {
      value: null,
      precision: null,
      earliestDataTime: utc(2024, 1, 2, 3, 4, 5),
      defaultZoom: "1d",
      graphable: false,
    }),
  numeric_since: () => new ui.NumericVariable("Flow Rate", { value: 1, defaultRangeSince: 6 * 3600 + 1.5, graphable: true }),
  numeric_graphable_tag: () => new ui.NumericVariable("Level", { value: 3, graphable: ui.tagRef("plot_level", "boolean", true) }),
  text_var: () => new ui.TextVariable("Status", { value: MODE }),
  text_var_plain: () => new ui.TextVariable("Status Text", { value: "ok" }),
  bool_var: () => new ui.BooleanVariable("Running", { value: ON }),
  datetime_var: () => new ui.DateTimeVariable("Last Seen", { value: 1700000000 }),
  timestamp_dt: () => new ui.Timestamp("Updated", { value: utc(2024, 5, 6, 7, 8, 9, 123), precision: "second", absoluteFormat: "HH:mm" }),
  timestamp_tag: () => new ui.Timestamp("Updated At", { value: ui.tagRef("updated", "number") }),
  timestamp_unset: () => new ui.Timestamp("Never"),
  button: () => new ui.Button("Start Pump"),
  button_all: () =>
    new ui.Button("Stop Pump", {
      disabled: true,
      labelString: "Stop",
      requiresConfirm: true,
      globalInteraction: false,
      commandTimeout: 12.5,
      commandRetryTimeout: 3,
      direct: true,
      showActivity: false,
      default: "idle",
    }),
  button_confirm: () =>
    new ui.Button("Reset", {
      requiresConfirm: new ui.ConfirmDialog({
        title: "Sure?",
        subtitle: "s",
        warningReason: "w",
        colour: "red",
        helpText: "h",
        icon: "i",
        audit: new ui.AuditConfig({ required: true, label: "Why", placeholder: "..." }),
      }),
    }),
  button_confirm_audit_bool: () => new ui.Button("Reset Two", { requiresConfirm: new ui.ConfirmDialog({ audit: true }) }),
  button_value: () => new ui.Button("Custom", { value: "$cmds.app().elsewhere" }),
  default_bool: () => new ui.Switch("Enabled", { default: true }),
  default_number: () => new ui.FloatInput("Setpoint", { default: 1.5, minVal: 0, maxVal: 10 }),
  default_none: () => new ui.FloatInput("Unset Point", { default: null }),
  warning: () => new ui.WarningIndicator("Low Battery"),
  warning_no_cancel: () => new ui.WarningIndicator("High Temp", { canCancel: false }),
  select: () =>
    new ui.Select("Mode", { options: [new ui.Option("Auto"), new ui.Option("Manual Mode"), new ui.Option("Off!")], default: "auto" }),
  slider: () => new ui.Slider("Speed"),
  slider_all: () =>
    new ui.Slider("Speed Two", { minVal: -5, maxVal: 5, stepSize: 0.5, dualSlider: false, inverted: false, colours: "red,green" }),
  switch: () => new ui.Switch("Light"),
  text_input: () => new ui.TextInput("Note"),
  text_area: () => new ui.TextInput("Long Note", { isTextArea: true }),
  datetime_input: () => new ui.DatetimeInput("When"),
  datetime_input_all: () => new ui.DatetimeInput("When Two", { pickers: ["date"], direction: "future", maxPast: 60, maxFuture: 86400.5 }),
  time_input: () => new ui.TimeInput("Start Time", { maxPast: 0.25 }),
  container: () =>
    new ui.Container("Group", {
      children: [new ui.NumericVariable("A", { value: 1 }), new ui.Button("B", { position: 0 }), new ui.Switch("C", { position: 3 })],
    }),
  submodule: () => new ui.Submodule("Pump", { children: [new ui.NumericVariable("Rate")], status: "running" }),
  submodule_collapsed: () => new ui.Submodule("Pump Two", { isCollapsed: true }),
  submodule_open_tag: () => new ui.Submodule("Pump Three", { defaultOpen: ui.tagRef("pump_open", "boolean", false), isCollapsed: true }),
  application: () =>
    new ui.Application("My App", {
      children: [new ui.TextVariable("S", { value: "x" })],
      variant: ui.ApplicationVariant.stacked,
      fullWidth: true,
    }),
  remote: () =>
    new ui.RemoteComponent("Widget Thing", "https://example.com/w.js", {
      children: [new ui.Switch("Inner")],
      extra: { custom_prop: 5, hidden: true },
      hidden: true,
    }),
  tabs: () => new ui.TabContainer("Tabs", { children: [new ui.Submodule("One"), new ui.Submodule("Two")], defaultPage: 1 }),
  connection_default: () => new ui.ConnectionInfo(),
  connection_periodic: () =>
    new ui.ConnectionInfo("conn", {
      connectionType: "periodic",
      connectionPeriod: 600,
      nextConnection: 300,
      offlineAfter: 1200,
      allowedMisses: 2,
    }),
  connection_offline: () => new ui.ConnectionInfo(undefined, { offlineAfter: 60 }),
  multiplot: () =>
    new ui.Multiplot(
      "Levels",
      [
        new ui.Series("Tank Level", TEMP, {
          dataType: "number",
          colour: "blue",
          units: "m",
          range: [0, "auto"],
          ranges: [new ui.Range({ label: "Hi", minVal: 8, maxVal: 10 })],
          thresholds: [new ui.Threshold("Alarm", 9)],
        }),
        new ui.Series("Pump On", ui.tagRef("on", "boolean"), {
          active: false,
          icon: "pump",
          sharedAxis: "left",
          stepLabels: ["off", "on"],
        }),
      ],
      { defaultZoom: "6h", defaultRangeView: "line", earliestDataTime: utc(2024, 1, 1) },
    ),
  multiplot_min: () => new ui.Multiplot("Plain Plot", [new ui.Series("Raw", null)]),
  element_tag_fields: () =>
    new ui.NumericVariable("Bound Fields", {
      value: TEMP,
      hidden: ui.tagRef("hide_it", "boolean", false),
      isAvailable: ui.tagRef("avail"),
      conditions: { show: ui.tagRef("c", "number") },
      position: 0,
      colour: ui.tagRef("col", "string", "red"),
    }),
  timestamp_int: () => new ui.Timestamp("Epoch Ms", { value: 1700000000123, precision: "minute" }),
  submodule_open_true: () => new ui.Submodule("Open Me", { defaultOpen: true, status: ui.tagRef("st", "string", "ok") }),
  series_live_tag: () =>
    new ui.Multiplot("Live Plot", [new ui.Series("Temp", TEMP, { name: "t1" }), new ui.Series("Mode", MODE, { dataType: "string" })]),
  interaction_tag_default: () =>
    new ui.Slider("Level Set", {
      default: 50,
      minVal: ui.tagRef("lo", "number", 0),
      maxVal: ui.tagRef("hi", "number", 100),
      requiresConfirm: false,
    }),
  name_sanitised: () => new ui.TextVariable("Temp (°C) #1 - Main", { value: "x" }),
  camera_live: () => new ui.CameraLiveView("cam1", "main", true),
  camera_history: () => new ui.CameraHistory("cam1", { displayName: "Old Pictures" }),
  tag_ref_forms: () =>
    new ui.Container("Refs", {
      children: [
        new ui.TextVariable("A", { value: ui.tagRef("a") }),
        new ui.TextVariable("B", { value: ui.tagRef("b", undefined, "x") }),
        new ui.TextVariable("C", { value: ui.tagRef("c", "integer", 3) }),
        new ui.TextVariable("D", { value: ui.tagRef("d", "dict", { k: [1, "é"] }) }),
        new ui.TextVariable("E", { value: ui.tagRef("e", "bool", null) }),
      ],
    }),
  schema_default: () => new ui.UI([new ui.NumericVariable("Temp", { value: TEMP }), new ui.Button("Go")]),
  schema_options: () =>
    new ui.UI([new ui.Submodule("Pump", { children: [new ui.Switch("Run", { default: false })] })], {
      displayName: "Pumps",
      hidden: true,
      fullWidth: "$config.app().wide",
      position: 3,
      defaultOpen: true,
      icon: "pump",
      colour: "blue",
    }),
};

describe("pydoover 1.x element serialisation (golden, key order included)", () => {
  it("covers every golden case", () => {
    expect(Object.keys(CASES).sort()).toEqual(Object.keys(elements).sort());
  });
  it.each(Object.keys(elements))("%s", (id) => {
    ui.resetPositions();
    const made = CASES[id]!();
    const actual = "toSchema" in made ? made.toSchema() : made.toDict();
    expect(JSON.stringify(actual)).toBe(JSON.stringify(elements[id]));
  });
});

const DECLARATIONS: Record<string, () => InstanceType<typeof T.Tag>> = {
  number_default_cross: () => new T.Number({ default: 0, logOn: new T.Cross([10]) }),
  number_first_equals_default_delta: () => new T.Number({ default: 5, logOn: new T.Delta({ amount: 2 }) }),
  number_no_default_rise_fall: () => new T.Number({ logOn: [new T.Rise([10, 20]), new T.Fall([5])] }),
  number_deadband: () => new T.Number({ default: 50, logOn: new T.Cross([50], { deadband: 4 }) }),
  number_percent: () => new T.Number({ default: 0, logOn: new T.Delta({ percent: 10 }) }),
  bool_any_change_default_false: () => new T.Boolean({ default: false, logOn: new T.AnyChange() }),
  bool_enter_exit_from_default: () => new T.Boolean({ default: true, logOn: [new T.Exit(true), new T.Enter(true)] }),
  bool_coercion: () => new T.Boolean({ default: false }),
  string_enter_default: () => new T.String({ default: "idle", logOn: new T.Enter("idle") }),
  string_any_change_no_default: () => new T.String({ logOn: new T.AnyChange() }),
  integer_tag: () => new T.Tag("integer", { default: 1, logOn: new T.Delta({ amount: 1 }) }),
};

const buses: LocalBus[] = [];
afterEach(async () => {
  for (const bus of buses.splice(0)) await bus.close();
});

describe("declared tags over an Application (golden trigger cases)", () => {
  it("covers every golden case", () => {
    expect(Object.keys(DECLARATIONS).sort()).toEqual(Object.keys(tagCases).sort());
  });
  it.each(Object.keys(tagCases))("%s", async (id) => {
    const golden = tagCases[id]!;
    const bus = new LocalBus();
    buses.push(bus);
    const agent = bus.agent("dev-1x");
    const app = new Application({ agent, appKey: "app" });
    const decl = DECLARATIONS[id]!();
    expect(decl.toDict()).toEqual(golden.declaration);
    const t = app.declareTags({ t: decl }).t;
    expect(t.get() ?? "<NotSet>").toEqual(golden.steps[0]!.get_before);
    let messages = 0;
    for (const step of golden.steps.slice(1)) {
      await t.set(step.set);
      await app.commitTags();
      const logged = (await agent.getMessages("tag_values")).length > messages;
      messages = (await agent.getMessages("tag_values")).length;
      expect({ set: step.set, logged, get: t.get() ?? "<NotSet>" }).toEqual({ set: step.set, logged: step.logged, get: step.get });
    }
  });
});
