// The browser entry of the package: everything of the main entry (core, SDK, UI, alerts, the
// client with `connect`) except the MQTT transport classes. Nothing here touches a Node module:
// the WebSocket is the page's own, offline writes wait in memory (the SQLite outbox is Node only
// and loaded lazily by a specifier bundlers do not follow), and connect() imports the MQTT pipe
// (and mqtt.js) only when an mqtt: URL is used.
//
// It is ../portable.ts: the main entry (../index.ts) adds MqttTransport and connectMqtt, whose
// re-export here would put the MQTT pipe in every browser bundle. test/browser.package.test.ts
// checks the two entries' exports differ by exactly those two.
//
// scripts/build-browser.mjs bundles this file into dist/browser/tagwire.js (one ES module with
// the wasm embedded, for a plain <script type="module">) and dist/browser/tagwire.slim.js (the
// same code fetching tagwire.wasm beside it), with "msgpackr" swapped for ./msgpack.ts.
export * from "../portable.js";
