"""Writes the viewer's Doover 1.x fixtures by running pydoover's own UI code.

The viewer test (test/viewer.ui1x.browser.test.ts) publishes these schemas to a hub exactly as a
pydoover 1.x application would (ui_state.state.children.<app key> = UI.to_schema()), so the page
is checked against what pydoover really produces, never against JSON written from reading it.

    git clone https://github.com/getdoover/pydoover /tmp/pydoover-viewer   # commit in the README
    PYDOOVER=/tmp/pydoover-viewer python3 scripts/golden/viewer_ui1x.py

Only pydoover.ui and pydoover.tags are imported: they need nothing beyond the standard library.
The schema is exported with resolve_config=False, as `export()` does, so the page has to resolve
the `$config.app()` references itself (from deployment_config).
"""

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

PYDOOVER = Path(os.environ.get("PYDOOVER", "/tmp/pydoover-viewer"))
sys.path.insert(0, str(PYDOOVER))

from pydoover import ui  # noqa: E402
from pydoover.tags import Boolean, Number, String, Tag, Tags  # noqa: E402

OUT = Path(__file__).resolve().parents[2] / "test" / "fixtures" / "viewer-1x"


class PumpTags(Tags):
    pressure = Number(default=0)
    flow = Number(default=12.5)
    running = Boolean(default=False)
    mode = String(default="auto")
    last_service = Tag("number", default=0)
    next_start = Tag("number", default=0)
    details_open = Boolean(default=True)
    level_ok = Boolean(default=True)
    level_status = String(default="normal")


class AlertStream(ui.Element):
    """pydoover 1.x has no AlertStream class (0.x had one: type "uiAlertStream", name
    "significantEvent", display name "placeholder"). This is the 0.x declaration on 1.x's Element,
    so its serialisation is still pydoover's own `Element.to_dict()`."""

    type = "uiAlertStream"

    def __init__(self, **kwargs):
        super().__init__("placeholder", name="significantEvent", **kwargs)


class PumpUI(ui.UI):
    pressure = ui.NumericVariable(
        "Pressure",
        name="pressure",
        value=PumpTags.pressure,
        units="kPa",
        precision=1,
        ranges=[
            ui.Range("Low", 0, 100, ui.Colour.yellow),
            ui.Range("Normal", 100, 400, ui.Colour.green),
            ui.Range("High", 400, 500, ui.Colour.red),
        ],
        thresholds=[ui.Threshold("Trip", 450, ui.Colour.red)],
    )
    running = ui.BooleanVariable("Running", name="running", value=PumpTags.running)
    mode_text = ui.TextVariable("Mode", name="mode_text", value=PumpTags.mode)
    last_service = ui.DateTimeVariable("Last service", name="last_service", value=PumpTags.last_service)
    next_start = ui.Timestamp("Next start", name="next_start", value=PumpTags.next_start, precision="second")
    start = ui.Button("Start pump", name="start", colour=ui.Colour.green, position=1)
    stop = ui.Button(
        "Stop pump",
        name="stop",
        colour=ui.Colour.red,
        requires_confirm=ui.ConfirmDialog(title="Stop the pump?", warning_reason="Flow stops at once."),
        position=2,
    )
    reset = ui.Button("Reset counters", name="reset", direct=True, position=3)
    snapshot = ui.Button("Snapshot all cameras", name="camera_get_now", global_interaction=True, position=4)
    setpoint = ui.FloatInput("Pressure setpoint", name="setpoint", min_val=50, max_val=450, default=250, units="kPa")
    label = ui.TextInput("Site label", name="label", default="north")
    service_due = ui.DatetimeInput("Service due", name="service_due", pickers=["date", "time"], direction="future", max_future=timedelta(days=365))
    quiet_from = ui.TimeInput("Quiet hours from", name="quiet_from")
    mode = ui.Select("Mode", name="mode", options=[ui.Option("Auto"), ui.Option("Manual"), ui.Option("Off")], default="auto")
    speed = ui.Slider("Speed", name="speed", min_val=0, max_val=100, step_size=5, default=40, units="%")
    enabled = ui.Switch("Enabled", name="enabled", default=True)
    low_level = ui.WarningIndicator("Tank level low", name="low_level", hidden=PumpTags.level_ok)
    details = ui.Submodule(
        "Details",
        name="details",
        status=PumpTags.level_status,
        default_open=PumpTags.details_open,
        children=[
            ui.NumericVariable("Flow", name="flow", value=PumpTags.flow, units="L/s", precision=2),
            ui.Container("Inner", name="inner", children=[ui.TextVariable("Note", name="note", value="fixed text")]),
        ],
    )
    tabs = ui.TabContainer(
        "Views",
        name="tabs",
        default_page=1,
        children=[
            ui.Submodule("Trends", name="trends", children=[
                ui.Multiplot(
                    "Pressure and flow",
                    name="trend_plot",
                    series=[
                        ui.Series("Pressure", value=PumpTags.pressure, data_type="number", units="kPa", colour=ui.Colour.blue),
                        ui.Series("Flow", value=PumpTags.flow, data_type="number", units="L/s", colour=ui.Colour.orange),
                    ],
                    default_zoom="1h",
                ),
            ]),
            ui.Submodule("Cameras", name="cameras", children=[
                ui.CameraLiveView("cam_front", "main", True, display_name="Front camera", name="front_live"),
                ui.CameraHistory("cam_front", display_name="Front history", name="front_history"),
            ]),
        ],
    )
    connection = ui.ConnectionInfo(name="connection", connection_type=ui.ConnectionType.periodic, connection_period=600, next_connection=900, offline_after=1800)
    alerts = AlertStream()
    remote = ui.RemoteComponent("Site map", "https://example.com/map.js", name="remote_map")


def main() -> None:
    tags = PumpTags("pump", None, None)
    schema = PumpUI(None, tags, "pump").bind_tags(tags).to_schema(resolve_config=False)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "pump.ui.json").write_text(json.dumps(schema, indent=2) + "\n")
    commit = subprocess.run(["git", "-C", str(PYDOOVER), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"wrote {OUT / 'pump.ui.json'} from pydoover {commit}")


if __name__ == "__main__":
    main()
