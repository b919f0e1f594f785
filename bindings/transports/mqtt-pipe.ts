// The client end of an MQTT frame pipe as connect() opens it for mqtt:// URLs: the topics, the
// presence records and the pipe authentication around connectMqtt. Its own module because
// connect() imports it dynamically: with pipe-auth's HMAC it is ~3.5 KB gzipped that a client
// using only WebSockets never loads (the browser builds emit it as a separate chunk).

import type { Transport } from "./contract.js";
import { connectMqtt, type MqttModuleLike } from "./mqtt.js";
import { b64url, randomBytes } from "./pipe-auth.js";

export interface MqttPipeOptions {
  /** mqtt://host:port (or mqtts:), without the prefix path. */
  brokerUrl: string;
  /** The topic prefix a hub bridge relays. */
  prefix: string;
  /** The pipe id, also the MQTT client id. */
  pipeId: string;
  toHub: string;
  fromHub: string;
  /** This agent's presence topic. */
  presence: string;
  token?: string;
  mqtt?: MqttModuleLike;
}

export function openMqttPipe(o: MqttPipeOptions): Transport {
  // Revealed only in the offline record: it proves that record is this client's (the bridge
  // holds its hash from the handshake), so a forged one cannot end this client's relay.
  const release = randomBytes(16);
  return connectMqtt(o.brokerUrl, {
    inTopic: o.fromHub,
    outTopic: o.toHub,
    clientId: o.pipeId,
    mqtt: o.mqtt,
    // Opens only while a bridge relays this prefix to a hub.
    peerStatusTopic: `${o.prefix}/hub/status`,
    // Presence: the broker publishes the offline record if this client vanishes; the bridge
    // also reads it to end this client's hub connection.
    will: {
      topic: o.presence,
      payload: JSON.stringify({ online: false, clientId: o.pipeId, release: b64url(release) }),
      retain: true,
      qos: 1,
    },
    hello: { topic: o.presence, payload: JSON.stringify({ online: true, clientId: o.pipeId, ts: Date.now() }), retain: true, qos: 1 },
    pipeAuth: { token: o.token, clientId: o.pipeId, release },
  });
}
