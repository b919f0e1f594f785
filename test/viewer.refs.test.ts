// The viewer's Doover 1.x reference resolver (viewer/src/ui1x/refs.ts) over the references
// pydoover 1.x really writes: every reference string in the golden schema
// (test/fixtures/viewer-1x/pump.ui.json, produced by running pydoover) must parse, and resolve to
// the tag, command or config value, or to the default the reference carries.
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import type { Json } from "../bindings/sdk/session.js";
import { isRef, parseRef, resolveValue, tagPath, type RefScope } from "../viewer/src/ui1x/refs.js";
import { directCommand, rpcRequest } from "../viewer/src/ui1x/commands.js";
import { isApp1x } from "../viewer/src/ui1x/view.js";

const schema = JSON.parse(readFileSync(new URL("./fixtures/viewer-1x/pump.ui.json", import.meta.url), "utf8")) as Json;

function strings(v: Json, out: string[] = []): string[] {
  if (typeof v === "string") out.push(v);
  else if (Array.isArray(v)) for (const x of v) strings(x, out);
  else if (v && typeof v === "object") for (const x of Object.values(v)) strings(x, out);
  return out;
}

const empty: RefScope = { appKey: "pump", tags: {}, cmds: {}, config: {} };

describe("1.x references", () => {
  test("every $ string pydoover wrote is a reference the viewer parses", () => {
    const refs = strings(schema).filter((s) => s.startsWith("$"));
    expect(refs.length).toBeGreaterThan(20);
    for (const r of refs) expect(isRef(r), r).toBe(true);
    expect(isApp1x(schema)).toBe(true);
  });

  test("tag references: value, else the JSON default, coerced to the declared type", () => {
    expect(resolveValue("$tag.app().pressure:number:0", empty)).toBe(0);
    expect(resolveValue('$tag.app().mode:string:"auto"', empty)).toBe("auto");
    expect(resolveValue("$tag.app().details_open:boolean:true", empty)).toBe(true);
    const scope: RefScope = {
      ...empty,
      tags: { pump: { pressure: 312.5, mode: "manual", details_open: "false", nested: { a: 2 } }, other: { pressure: 1 } },
    };
    expect(resolveValue("$tag.app().pressure:number:0", scope)).toBe(312.5);
    expect(resolveValue('$tag.app().mode:string:"auto"', scope)).toBe("manual");
    expect(resolveValue("$tag.app().details_open:boolean:true", scope)).toBe(false);
    expect(resolveValue("$tag.app().nested.a:number", scope)).toBe(2);
    expect(resolveValue("$tag.other.pressure:number", scope)).toBe(1);
    expect(resolveValue("$tag.app().voltage:number", scope)).toBeUndefined();
    expect(tagPath("$tag.app().pressure:number:0", "pump")).toEqual(["pump", "pressure"]);
    expect(parseRef('$tag.app().label:string:"a:b"')?.fallback).toBe("a:b");
  });

  test("command references: ui_cmds of the app, else the Python-written default", () => {
    expect(resolveValue("$cmds.app().setpoint::250", empty)).toBe(250);
    expect(resolveValue("$cmds.app().enabled::True", empty)).toBe(true);
    expect(resolveValue("$cmds.app().label::north", empty)).toBe("north");
    expect(resolveValue("$cmds.app().start", empty)).toBeUndefined();
    expect(resolveValue("$cmds.app().setpoint::250", { ...empty, cmds: { pump: { setpoint: 300 }, other: { setpoint: 1 } } })).toBe(300);
  });

  test("config references: deployment_config.applications.<app key>, typed defaults, APP_KEY", () => {
    const scope: RefScope = {
      ...empty,
      config: { applications: { pump: { APP_DISPLAY_NAME: "Borehole pump", interpreter_hidden: "yes", dv_app_position: "7" } } },
    };
    expect(resolveValue("$config.app().APP_DISPLAY_NAME", scope)).toBe("Borehole pump");
    expect(resolveValue("$config.app().interpreter_hidden:boolean:false", scope)).toBe(true);
    expect(resolveValue("$config.app().interpreter_full_width:boolean:false", scope)).toBe(false);
    expect(resolveValue("$config.app().dv_app_position:number:100", scope)).toBe(7);
    expect(resolveValue("$config.app().APP_KEY", scope)).toBe("pump");
    expect(resolveValue("$config.app().APP_DISPLAY_NAME", empty)).toBeUndefined();
  });

  test("literals pass through; a 0.4 tree is not taken for 1.x", () => {
    expect(resolveValue("fixed text", empty)).toBe("fixed text");
    expect(resolveValue(42, empty)).toBe(42);
    expect(resolveValue("$5 off", empty)).toBe("$5 off");
    expect(
      isApp1x({
        type: "uiApplication",
        children: { t: { type: "uiVariable", varType: "float", currentValue: 3 }, go: { type: "uiAction" } },
      }),
    ).toBe(false);
  });

  test("commands in pydoover's shapes", () => {
    expect(JSON.stringify(rpcRequest("pump", "start", true))).toBe(
      '{"type":"rpc","method":"start","request":true,"status":{"code":"sent"},"response":{},"app_key":"pump"}',
    );
    expect(rpcRequest(undefined, "camera_get_now", true)).toEqual({
      type: "rpc",
      method: "camera_get_now",
      request: true,
      status: { code: "sent" },
      response: {},
    });
    expect(directCommand("pump", "speed", 40)).toEqual({ pump: { speed: 40 } });
  });
});
