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
  /**
   * 4 = MQTT 3.1.1 (default; Aedes 1.2 refuses v5), 5 = MQTT 5, `auto` = try 5 and fall back to
   * 3.1.1 when the broker refuses 5 (see `connectMqtt`).
   */
  readonly protocolVersion?: MqttProtocolSetting;
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

/** What a connection asks for: a protocol version, or `auto` (5, else 3.1.1). */
export type MqttProtocolSetting = 4 | 5 | 'auto';

/** The protocol a connected client speaks: 4 (MQTT 3.1.1) or 5. */
export function negotiatedProtocol(client: MqttClient): 4 | 5 {
  return client.options.protocolVersion === 5 ? 5 : 4;
}

/**
 * Whether a first connection attempt with MQTT 5 failed because the broker does not speak 5:
 * CONNACK return code 1 (3.1.1 "unacceptable protocol version", what Aedes 1.2 answers), reason
 * code 132 (0x84, MQTT 5 "unsupported protocol version"), or the connection closed before any
 * CONNACK (brokers that drop a CONNECT they cannot parse).
 */
export function isProtocolRefusal(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return code === 1 || code === 132 || err instanceof ClosedBeforeConnackError;
}

/** The broker closed the connection before answering the CONNECT. */
class ClosedBeforeConnackError extends Error {
  constructor(url: string) {
    super(`${url} closed the connection before CONNACK`);
    this.name = 'ClosedBeforeConnackError';
  }
}

/** A client id that is stable per (name, instance): `albergue-<name>-<instance>`, MQTT-safe. */
export function stableClientId(name: string, instance: string | number = process.env.INSTANCE_ID ?? '0'): string {
  return `albergue-${name}-${instance}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 128);
}

const noop = (): void => undefined;

/** mqtt.js options for `o`; with `protocolVersion: 'auto'` those of the MQTT 5 attempt (see `connectMqtt`). */
export function mqttClientOptions(o: MqttConnectionOptions): IClientOptions {
  const protocolVersion = o.protocolVersion === 'auto' ? 5 : (o.protocolVersion ?? 4);
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
 * also after the broker refused a CONNACK (bad credentials for a while). With `protocolVersion:
 * 'auto'` the first attempt speaks MQTT 5; if the broker refuses that protocol (`isProtocolRefusal`)
 * a second client speaks 3.1.1, and keeps to it on every reconnect (`negotiatedProtocol` tells which).
 * `prepare` runs on each client made, before its first packet is read.
 */
export async function connectMqtt(o: MqttConnectionOptions, prepare?: (client: MqttClient) => void): Promise<MqttClient> {
  if (o.protocolVersion !== 'auto') return connectOnce(o, prepare);
  try {
    return await connectOnce({ ...o, protocolVersion: 5 }, prepare, true);
  } catch (err) {
    if (!isProtocolRefusal((err as Error).cause)) throw err;
    return connectOnce({ ...o, protocolVersion: 4 }, prepare);
  }
}

async function connectOnce(o: MqttConnectionOptions, prepare?: (client: MqttClient) => void, probe = false): Promise<MqttClient> {
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
    const settle = (err?: Error) => {
      client.off('connect', onConnect);
      client.off('error', onError);
      client.off('close', onClose);
      if (!err) return resolve();
      client.end(true);
      reject(new Error(`MQTT connection to ${o.url} as ${o.clientId} failed: ${err.message}`, { cause: err }));
    };
    const onConnect = () => settle();
    const onError = (err: Error) => settle(err);
    // Only a protocol probe gives up on a bare close: otherwise mqtt.js reconnects, as before.
    const onClose = () => {
      if (probe && !client.connected) settle(new ClosedBeforeConnackError(o.url));
    };
    client.once('connect', onConnect);
    client.once('error', onError);
    client.on('close', onClose);
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
