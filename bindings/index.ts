// Public entry of the tagwire package (Node and bundlers): everything portable.ts exports, plus
// the MQTT transport classes.
export * from "./portable.js";
export { MqttTransport, connectMqtt } from "./transports/mqtt.js";
