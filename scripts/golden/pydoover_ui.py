#!/usr/bin/env python3
"""Records pydoover 1.x's UI serialisation and tag-trigger behaviour by running pydoover.

    python3 scripts/golden/pydoover_ui.py /path/to/pydoover-checkout [out-dir]

Writes elements.json (case id -> element.to_dict() / UI.to_schema()) and tags.json (per case, the
value each read returns and whether pydoover asked for a log on each set). The cases are ours;
every output is what pydoover's code returned. test/sdk.ui-1x.test.ts builds the same cases with
tagwire's classes, and the ids tie the two together.
"""

import asyncio
import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

root = Path(sys.argv[1]).resolve()
out_dir = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).resolve().parents[2] / "test/fixtures/pydoover-1x"
sys.path.insert(0, str(root))

from pydoover import ui  # noqa: E402
from pydoover import tags as T  # noqa: E402
from pydoover.ui.element import Element  # noqa: E402


def fresh():
    # A fresh process starts pydoover's element position counter at 50.
    Element._Element__global_position_counter = 50


TEMP = T.Number(default=20.5, name="temp", live=True)
MODE = T.String(default="auto", name="mode")
ON = T.Boolean(name="on")
UTC = timezone.utc

CASES = {
    "element_minimal": lambda: ui.Element("Plain Thing"),
    "element_all": lambda: ui.Element("All Fields", is_available=True, help_str="help", verbose_str="verbose", show_activity=False, form="f", graphic="g", layout="l", component_url="u", position=7, conditions={"a": 1}, hidden=True, units="m", icon="i", colour="red", name="explicit_name"),
    "element_nones": lambda: ui.Element("Nones", is_available=None, help_str=None, hidden=None),
    "numeric_default": lambda: ui.NumericVariable("Temperature"),
    "numeric_value": lambda: ui.NumericVariable("Temperature", value=21.5, precision=1, units="°C"),
    "numeric_tag": lambda: ui.NumericVariable("Temperature", value=TEMP, precision=2, form=ui.Widget.radial),
    "numeric_ranges": lambda: ui.NumericVariable("Pressure", value=ui.tag_ref("pressure", "float", 0), ranges=[ui.Range("Low", 0, 10, ui.Colour.red), ui.Range(None, 10, 20, show_on_graph=False)], thresholds=[ui.Threshold("Max", 18, ui.Colour.orange)], default_range_view=ui.RangeView.zone),
    "numeric_options": lambda: ui.NumericVariable("Flow", value=None, precision=None, earliest_data_time=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), default_zoom="1d", graphable=False),
    "numeric_since": lambda: ui.NumericVariable("Flow Rate", value=1, default_range_since=__import__("datetime").timedelta(hours=6, seconds=1.5), graphable=True),
    "numeric_graphable_tag": lambda: ui.NumericVariable("Level", value=3, graphable=ui.tag_ref("plot_level", "boolean", True)),
    "text_var": lambda: ui.TextVariable("Status", value=MODE),
    "text_var_plain": lambda: ui.TextVariable("Status Text", value="ok"),
    "bool_var": lambda: ui.BooleanVariable("Running", value=ON),
    "datetime_var": lambda: ui.DateTimeVariable("Last Seen", value=1700000000),
    "timestamp_dt": lambda: ui.Timestamp("Updated", value=datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC), precision="second", absolute_format="HH:mm"),
    "timestamp_tag": lambda: ui.Timestamp("Updated At", value=ui.tag_ref("updated", "number")),
    "timestamp_unset": lambda: ui.Timestamp("Never"),
    "button": lambda: ui.Button("Start Pump"),
    "button_all": lambda: ui.Button("Stop Pump", disabled=True, label_string="Stop", requires_confirm=True, global_interaction=False, command_timeout=12.5, command_retry_timeout=3, direct=True, show_activity=False, default="idle"),
    "button_confirm": lambda: ui.Button("Reset", requires_confirm=ui.ConfirmDialog(title="Sure?", subtitle="s", warning_reason="w", colour="red", help_text="h", icon="i", audit=ui.AuditConfig(required=True, label="Why", placeholder="..."))),
    "button_confirm_audit_bool": lambda: ui.Button("Reset Two", requires_confirm=ui.ConfirmDialog(audit=True)),
    "button_value": lambda: ui.Button("Custom", value="$cmds.app().elsewhere"),
    "default_bool": lambda: ui.Switch("Enabled", default=True),
    "default_number": lambda: ui.FloatInput("Setpoint", default=1.5, min_val=0, max_val=10),
    "default_none": lambda: ui.FloatInput("Unset Point", default=None),
    "warning": lambda: ui.WarningIndicator("Low Battery"),
    "warning_no_cancel": lambda: ui.WarningIndicator("High Temp", can_cancel=False),
    "select": lambda: ui.Select("Mode", options=[ui.Option("Auto"), ui.Option("Manual Mode"), ui.Option("Off!")], default="auto"),
    "slider": lambda: ui.Slider("Speed"),
    "slider_all": lambda: ui.Slider("Speed Two", min_val=-5, max_val=5, step_size=0.5, dual_slider=False, inverted=False, colours="red,green"),
    "switch": lambda: ui.Switch("Light"),
    "text_input": lambda: ui.TextInput("Note"),
    "text_area": lambda: ui.TextInput("Long Note", is_text_area=True),
    "datetime_input": lambda: ui.DatetimeInput("When"),
    "datetime_input_all": lambda: ui.DatetimeInput("When Two", pickers=["date"], direction="future", max_past=60, max_future=86400.5),
    "time_input": lambda: ui.TimeInput("Start Time", max_past=0.25),
    "container": lambda: ui.Container("Group", children=[ui.NumericVariable("A", value=1), ui.Button("B", position=0), ui.Switch("C", position=3)]),
    "submodule": lambda: ui.Submodule("Pump", children=[ui.NumericVariable("Rate")], status="running"),
    "submodule_collapsed": lambda: ui.Submodule("Pump Two", is_collapsed=True),
    "submodule_open_tag": lambda: ui.Submodule("Pump Three", default_open=ui.tag_ref("pump_open", "boolean", False), is_collapsed=True),
    "application": lambda: ui.Application("My App", children=[ui.TextVariable("S", value="x")], variant=ui.ApplicationVariant.stacked, full_width=True),
    "remote": lambda: ui.RemoteComponent("Widget Thing", "https://example.com/w.js", children=[ui.Switch("Inner")], custom_prop=5, hidden=True),
    "tabs": lambda: ui.TabContainer("Tabs", children=[ui.Submodule("One"), ui.Submodule("Two")], default_page=1),
    "connection_default": lambda: ui.ConnectionInfo(),
    "connection_periodic": lambda: ui.ConnectionInfo("conn", ui.ConnectionType.periodic, connection_period=600, next_connection=300, offline_after=1200, allowed_misses=2),
    "connection_offline": lambda: ui.ConnectionInfo(offline_after=60),
    "multiplot": lambda: ui.Multiplot("Levels", series=[ui.Series("Tank Level", TEMP, data_type="number", colour="blue", units="m", range=(0, "auto"), ranges=[ui.Range("Hi", 8, 10)], thresholds=[ui.Threshold("Alarm", 9)]), ui.Series("Pump On", ui.tag_ref("on", "boolean"), active=False, icon="pump", shared_axis="left", step_labels=["off", "on"])], default_zoom="6h", default_range_view="line", earliest_data_time=datetime(2024, 1, 1, tzinfo=UTC)),
    "multiplot_min": lambda: ui.Multiplot("Plain Plot", series=[ui.Series("Raw", None)]),
    "element_tag_fields": lambda: ui.NumericVariable("Bound Fields", value=TEMP, hidden=ui.tag_ref("hide_it", "boolean", False), is_available=ui.tag_ref("avail"), conditions={"show": ui.tag_ref("c", "number")}, position=0, colour=ui.tag_ref("col", "string", "red")),
    "timestamp_int": lambda: ui.Timestamp("Epoch Ms", value=1700000000123, precision="minute"),
    "submodule_open_true": lambda: ui.Submodule("Open Me", default_open=True, status=ui.tag_ref("st", "string", "ok")),
    "series_live_tag": lambda: ui.Multiplot("Live Plot", series=[ui.Series("Temp", TEMP, name="t1"), ui.Series("Mode", MODE, data_type="string")]),
    "interaction_tag_default": lambda: ui.Slider("Level Set", default=50, min_val=ui.tag_ref("lo", "number", 0), max_val=ui.tag_ref("hi", "number", 100), requires_confirm=False),
    "name_sanitised": lambda: ui.TextVariable("Temp (°C) #1 - Main", value="x"),
    "camera_live": lambda: ui.CameraLiveView("cam1", "main", True),
    "camera_history": lambda: ui.CameraHistory("cam1", display_name="Old Pictures"),
    "tag_ref_forms": lambda: ui.Container("Refs", children=[ui.TextVariable("A", value=ui.tag_ref("a")), ui.TextVariable("B", value=ui.tag_ref("b", default_value="x")), ui.TextVariable("C", value=ui.tag_ref("c", "integer", 3)), ui.TextVariable("D", value=ui.tag_ref("d", "dict", {"k": [1, "é"]})), ui.TextVariable("E", value=ui.tag_ref("e", "bool", None))]),
}


class DemoUI(ui.UI):
    pass


class IconUI(ui.UI, display_name="Pumps", hidden=True, full_width="$config.app().wide", position=3, default_open=True, icon="pump", colour="blue"):
    pass


def schema_cases():
    fresh()
    d = DemoUI(None, None, "demo")
    d.add_element(ui.NumericVariable("Temp", value=TEMP))
    d.add_element(ui.Button("Go"))
    out = {"schema_default": d.to_schema()}
    fresh()
    i = IconUI(None, None, "pumps")
    i.add_element(ui.Submodule("Pump", children=[ui.Switch("Run", default=False)]))
    out["schema_options"] = i.to_schema()
    return out


# ------------------------------------------------------------------ tags


class DictManager:
    """The store under pydoover's Tags in this harness: every set is committed at once, with the
    channel's semantics (pydoover's own apply_diff; a null deletes the key)."""

    def __init__(self, apply_diff):
        self.values = {}
        self.apply_diff = apply_diff
        self.logged = []

    def get_tag(self, key, default=None, app_key=None, raise_key_error=False):
        return self.values.get(app_key, {}).get(key, default) if app_key else self.values.get(key, default)

    async def set_tag(self, key, value, app_key=None, log=False, **_):
        self.values = self.apply_diff(self.values, {app_key: {key: value}} if app_key else {key: value})
        self.logged.append(log)


TAG_CASES = [
    ("number_default_cross", lambda: T.Number(default=0, log_on=T.Cross(10)), [0, 5, 12, 12, 8, None, 15]),
    ("number_first_equals_default_delta", lambda: T.Number(default=5, log_on=T.Delta(amount=2)), [5, 6, 8, 7, 10]),
    ("number_no_default_rise_fall", lambda: T.Number(log_on=[T.Rise(10, 20), T.Fall(5)]), [1, 11, 25, 3, 6, 21]),
    ("number_deadband", lambda: T.Number(default=50, log_on=T.Cross(50, deadband=4)), [50, 51, 52, 49, 48, 53]),
    ("number_percent", lambda: T.Number(default=0, log_on=T.Delta(percent=10)), [0, 0, 1, 1.05, 1.2, -1]),
    ("bool_any_change_default_false", lambda: T.Boolean(default=False, log_on=T.AnyChange()), [False, True, True, None, False, 1, 0]),
    ("bool_enter_exit_from_default", lambda: T.Boolean(default=True, log_on=[T.Exit(True), T.Enter(True)]), [True, False, True, None, True]),
    ("bool_coercion", lambda: T.Boolean(default=False), [1, 0, "yes", "", [1], {}]),
    ("string_enter_default", lambda: T.String(default="idle", log_on=T.Enter("idle")), ["idle", "run", "idle", None, "idle", "stop"]),
    ("string_any_change_no_default", lambda: T.String(log_on=T.AnyChange()), ["a", "a", "b", None, "b"]),
    ("integer_tag", lambda: T.Tag("integer", default=1, log_on=T.Delta(amount=1)), [1, 2.0, 2.5, 4]),
]


async def run_tag_cases():
    from pydoover.utils.diff import apply_diff

    out = {}
    for case_id, make, values in TAG_CASES:
        decl = make()
        cls = type("CaseTags", (T.Tags,), {"t": decl})
        manager = DictManager(apply_diff)
        tags = cls("app", manager, None)
        steps = [{"set": None, "get_before": tags.t.get() if tags.t.get() is not T.NotSet else "<NotSet>"}]
        for v in values:
            await tags.t.set(v)
            got = tags.t.get()
            steps.append({"set": v, "logged": manager.logged[-1], "get": "<NotSet>" if got is T.NotSet else got})
        out[case_id] = {"declaration": decl.to_dict(), "steps": steps}
    return out


def main():
    elements = {}
    for case_id, make in CASES.items():
        fresh()
        elements[case_id] = make().to_dict()
    elements.update(schema_cases())
    tag_out = asyncio.run(run_tag_cases())
    out_dir.mkdir(parents=True, exist_ok=True)
    dump = lambda v: json.dumps(v, ensure_ascii=False, indent=1, allow_nan=False) + "\n"
    (out_dir / "elements.json").write_text(dump(elements), encoding="utf8")
    (out_dir / "tags.json").write_text(dump(tag_out), encoding="utf8")
    commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"pydoover {commit}: {len(elements)} element cases, {len(tag_out)} tag cases")


main()
