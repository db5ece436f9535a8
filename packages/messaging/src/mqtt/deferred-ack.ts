import type { IPublishPacket, MqttClient } from 'mqtt';

/**
 * Lets the subscriber PUBACK a QoS 1 message only after the ledger write is durable, on MQTT 3.1.1
 * as on 5, without blocking the connection meanwhile.
 *
 * How mqtt.js 5.16 handles an incoming QoS 1 PUBLISH (lib/handlers/publish.js): it emits 'message',
 * then calls `client.handleMessage(packet, cb)`; `cb()` sends the PUBACK and only then lets the
 * client parse the next packet, while `cb(err)` skips the PUBACK and moves on. Holding `cb` until
 * the ledger write completes would serialise every message behind one Redis round trip, so the
 * subscriber answers `cb(DEFERRED)` at once and sends the PUBACK itself later through the
 * client's packet writer (`_sendPacket`, private in the typings; this file is the only place that
 * touches it). `customHandleAcks` is not used: it exists only for MQTT 5.
 */
export const DEFERRED = Object.freeze(new Error('PUBACK deferred until the ledger write is durable'));

interface PacketWriter {
  _sendPacket(packet: { cmd: 'puback'; messageId: number }, cb?: (err?: Error) => void): void;
}

/**
 * Sends the PUBACK of `messageId`, provided the connection that delivered it is still the current
 * one: after a reconnect the id may belong to another message, and the broker redelivers the
 * unacknowledged one to the persistent session anyway (the ledger record is idempotent).
 */
export function sendPuback(client: MqttClient, messageId: number): void {
  if (!client.connected) return;
  (client as unknown as PacketWriter)._sendPacket({ cmd: 'puback', messageId });
}

export type MessageHandler = (packet: IPublishPacket, done: (err?: Error) => void) => void;

/** Installs `handler` as the client's handleMessage (before the first CONNACK, so no message slips by). */
export function interceptMessages(client: MqttClient, handler: MessageHandler): void {
  client.handleMessage = handler;
}
