import type { IConnackPacket, MqttClient } from 'mqtt';
import { negotiatedProtocol } from './connect.js';

/**
 * How the instances of one consumer group get their messages from the broker:
 * - `fanout` (default): every instance subscribes to the group's topics and receives every message;
 *   the ledger dedups by event_id and one lease wins (cost per message grows with the instances).
 * - `shared`: MQTT 5 shared subscriptions (`$share/<group>/<filter>`): the broker hands each message
 *   to one instance of the group, which records it in the ledger once; leases, retries and dedup
 *   stay in the ledger, so any instance handles a message whose lease lapsed.
 */
export type SubscriptionMode = 'fanout' | 'shared';

export const SUBSCRIPTION_MODES: readonly SubscriptionMode[] = ['fanout', 'shared'];

/** The subscription mode cannot work with this broker or configuration; the message says what to set. */
export class SubscriptionModeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SubscriptionModeError';
  }
}

/** MQTT 5 SUBACK reason code 0x9E: the broker has no shared subscriptions. */
export const SHARED_SUBSCRIPTIONS_NOT_SUPPORTED = 0x9e;

const FIX = 'set MQTT_SUBSCRIPTION_MODE=fanout, or use a broker with MQTT 5 shared subscriptions (Mosquitto 2, EMQX, HiveMQ, VerneMQ)';

/** A group name the `$share/<group>/…` syntax accepts: no `/`, `+`, `#`, not empty. */
export function assertShareGroup(group: string): void {
  if (group.length === 0 || /[/+#]/.test(group))
    throw new SubscriptionModeError(
      `MQTT_SUBSCRIPTION_MODE=shared: subscriber name ${JSON.stringify(group)} cannot be a shared subscription group (no '/', '+' or '#')`,
    );
}

/** The topic filter subscribed for `filter` in `mode`. */
export function modeFilter(mode: SubscriptionMode, group: string, filter: string): string {
  return mode === 'shared' ? `$share/${group}/${filter}` : filter;
}

/**
 * Refuses shared mode on a connection that cannot deliver it: MQTT 3.1.1 (Aedes takes `$share/…` for
 * a literal topic and would never deliver anything; a 3.1.1 SUBACK cannot say whether the broker
 * shares), or an MQTT 5 CONNACK that says `sharedSubscriptionAvailable: false`.
 */
export function assertSharedAvailable(client: MqttClient, connack: IConnackPacket | undefined, url: string): void {
  if (negotiatedProtocol(client) !== 5)
    throw new SubscriptionModeError(
      `MQTT_SUBSCRIPTION_MODE=shared needs MQTT 5 shared subscriptions, but the connection to ${url} speaks MQTT 3.1.1 ` +
        `(the broker refused MQTT 5, or MQTT_PROTOCOL_VERSION=4); the embedded broker (Aedes) has none: ${FIX}`,
    );
  if (connack?.properties?.sharedSubscriptionAvailable === false)
    throw new SubscriptionModeError(
      `MQTT_SUBSCRIPTION_MODE=shared: the broker at ${url} says shared subscriptions are not available: ${FIX}`,
    );
}

/** The error for a SUBACK that refused `filters` with `code` (an MQTT 5 reason code or 0x80). */
export function subscribeRefused(subscriber: string, mode: SubscriptionMode, filters: readonly string[], code: unknown): Error {
  const reason = typeof code === 'number' ? ` (reason code 0x${code.toString(16)})` : '';
  if (mode === 'shared')
    return new SubscriptionModeError(
      `MQTT_SUBSCRIPTION_MODE=shared: the broker refused the shared subscription of ${subscriber} to ${filters.join(', ')}${reason}` +
        (code === SHARED_SUBSCRIPTIONS_NOT_SUPPORTED ? ': shared subscriptions are not supported; ' + FIX : ''),
    );
  return new Error(`broker refused the subscription of ${subscriber} to ${filters.join(', ')}${reason}`);
}
