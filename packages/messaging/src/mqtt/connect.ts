import { connect } from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';

export interface MqttConnectionOptions {
  /** `mqtt://127.0.0.1:1884`, `ws://…`. */
  readonly url: string;
  /**
   * Stable across restarts: the broker keeps a persistent session (subscriptions and unacked QoS 1
   * messages) under this id. Two live clients must never share one (they would kick each other).
   */
  readonly clientId: string;
  readonly username?: string;
  readonly password?: string;
  /** 4 = MQTT 3.1.1 (default; Aedes 1.2 refuses v5), 5 = MQTT 5. */
  readonly protocolVersion?: 4 | 5;
  /** false (default) keeps a persistent session. */
  readonly clean?: boolean;
  /** MQTT 5 only: how long the broker keeps the session after a disconnect. Default 1 day. */
  readonly sessionExpirySeconds?: number;
  /** First reconnect delay; doubles on every failed attempt up to `maxReconnectMs`. */
  readonly reconnectMs?: number;
  readonly maxReconnectMs?: number;
  readonly connectTimeoutMs?: number;
  readonly keepaliveSeconds?: number;
}

/** A client id that is stable per (name, instance): `albergue-<name>-<instance>`, MQTT-safe. */
export function stableClientId(name: string, instance: string | number = process.env.INSTANCE_ID ?? '0'): string {
  return `albergue-${name}-${instance}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 128);
}

const noop = (): void => undefined;

export function mqttClientOptions(o: MqttConnectionOptions): IClientOptions {
  const protocolVersion = o.protocolVersion ?? 4;
  const clean = o.clean ?? false;
  const options: IClientOptions = {
    clientId: o.clientId,
    protocolVersion,
    clean,
    reconnectPeriod: o.reconnectMs ?? 200,
    connectTimeout: o.connectTimeoutMs ?? 10_000,
    keepalive: o.keepaliveSeconds ?? 30,
    // Unacked QoS 1 publishes are resent by us on reconnect (mqtt.js keeps them in its outgoing store).
    resubscribe: true,
    // A CONNACK refusal (a password rotated during a rollout, an ACL reload) must not end reconnecting
    // for good: without this mqtt.js stops after the first refusal and the service stays down.
    reconnectOnConnackError: true,
  };
  // mqtt.js calls its debug logger several times per packet; unless DEBUG asks for it, skip the calls.
  if (!/mqttjs/.test(process.env.DEBUG ?? '')) options.log = noop;
  if (o.username !== undefined) options.username = o.username;
  if (o.password !== undefined) options.password = o.password;
  // Without a session expiry an MQTT 5 broker drops a `clean: false` session at disconnect.
  if (protocolVersion === 5 && !clean) options.properties = { sessionExpiryInterval: o.sessionExpirySeconds ?? 86_400 };
  return options;
}

/** Whether a client is connected, and if not, the last reason the broker or the network gave. */
export interface MqttConnectionStatus {
  readonly connected: boolean;
  readonly reason?: string;
}

const lastProblem = new WeakMap<MqttClient, string>();

/** Describes an mqtt.js error: a CONNACK refusal as `connack refused: <reason>`. */
export function describeMqttError(err: Error): string {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'number')
    return `connack refused: ${err.message.replace(/^Connection refused: /i, '').toLowerCase()} (return code ${code})`;
  return err.message;
}

/** Connection status of a client made by `connectMqtt` (or any client, without a reason). */
export function mqttConnectionStatus(client: MqttClient): MqttConnectionStatus {
  if (client.connected) return { connected: true };
  const reason = lastProblem.get(client);
  return reason !== undefined
    ? { connected: false, reason }
    : { connected: false, reason: client.reconnecting ? 'reconnecting' : 'disconnected' };
}

/** Remembers the last connection problem of `client` for `mqttConnectionStatus` (cleared on CONNACK). */
export function trackMqttStatus(client: MqttClient): void {
  client.on('error', (err) => lastProblem.set(client, describeMqttError(err)));
  client.on('close', () => {
    if (!lastProblem.has(client)) lastProblem.set(client, 'connection closed, reconnecting');
  });
  client.on('connect', () => lastProblem.delete(client));
}

/**
 * Connects and resolves on the first CONNACK (rejects if the first connection fails). Afterwards the
 * client reconnects by itself with exponential backoff (reconnectMs doubling to maxReconnectMs),
 * also after the broker refused a CONNACK (bad credentials for a while).
 */
export async function connectMqtt(o: MqttConnectionOptions, prepare?: (client: MqttClient) => void): Promise<MqttClient> {
  const client = connect(o.url, mqttClientOptions(o));
  trackMqttStatus(client);
  // Runs before any packet is read: a persistent session's queued messages arrive right after CONNACK.
  prepare?.(client);
  const base = o.reconnectMs ?? 200;
  const max = o.maxReconnectMs ?? 10_000;
  // mqtt.js reads options.reconnectPeriod at every reconnect, so backoff is a matter of updating it.
  client.on('connect', () => {
    client.options.reconnectPeriod = base;
  });
  client.on('close', () => {
    client.options.reconnectPeriod = Math.min(max, (client.options.reconnectPeriod ?? base) * 2);
  });
  await new Promise<void>((resolve, reject) => {
    const onConnect = () => {
      client.off('error', onError);
      resolve();
    };
    const onError = (err: Error) => {
      client.off('connect', onConnect);
      client.end(true);
      reject(new Error(`MQTT connection to ${o.url} as ${o.clientId} failed: ${err.message}`));
    };
    client.once('connect', onConnect);
    client.once('error', onError);
  });
  // Later errors (a refused reconnect, a broken socket) are logged by the owner; keep them from throwing.
  if (client.listenerCount('error') === 0) client.on('error', () => undefined);
  return client;
}

/** Ends the client gracefully (waits for outgoing packets) with a bound, then forcibly. */
export async function endMqtt(client: MqttClient, timeoutMs = 2_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    client.endAsync(false),
    new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        client.end(true, () => resolve());
      }, timeoutMs);
    }),
  ]);
  if (timer) clearTimeout(timer);
}
