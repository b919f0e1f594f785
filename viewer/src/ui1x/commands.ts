// How a Doover 1.x interaction reaches its app, as pydoover 1.x expects it (pydoover/rpc.py,
// pydoover/ui/manager.py):
//
// - by default a command is an RPC request: one message on `ui_cmds`,
//     { type: "rpc", method: <element name>, request: <value>, status: { code: "sent" },
//       response: {}, app_key: <app key> }
//   (the keys in pydoover's order). The app whose key matches runs its `@ui.handler(<name>)`
//   with `request` as the payload and, with auto_update (the default), writes the value into
//   the `ui_cmds` aggregate, { <app key>: { <name>: <value> } }: that is what the element's
//   `$cmds.app().<name>` reference then shows.
// - an element with `direct: true` is written straight into that aggregate, as the app would
//   on accepting it; no handler runs and no acknowledgement is expected.
//
// What a press sends: a Button `true`, a Switch the new boolean, a Slider and a FloatInput a
// number, a Select the option's name, a TextInput the text, a DatetimeInput epoch milliseconds
// (UTC), a TimeInput seconds into the local day (pydoover's documented units).
import type { Json } from "../../../bindings/sdk/session.js";

export const UI_CMDS = "ui_cmds";

/**
 * The message pydoover's UICommandsManager dispatches to `@ui.handler(name)`. Without an app key
 * (an element with `global: true`) every app with a handler of that name takes it, as pydoover
 * filters by `app_key` only when the message has one.
 */
export function rpcRequest(appKey: string | undefined, name: string, value: Json): Json {
  const request: { [key: string]: Json } = { type: "rpc", method: name, request: value, status: { code: "sent" }, response: {} };
  if (appKey !== undefined) request.app_key = appKey;
  return request;
}

/** The aggregate merge of a `direct` command (and of an app accepting a command). */
export function directCommand(appKey: string, name: string, value: Json): Json {
  return { [appKey]: { [name]: value } };
}
