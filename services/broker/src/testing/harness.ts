// Test support for the broker: a broker on free ports with development credentials, a private
// redis-server per test file, and MQTT clients that are always closed.
import { randomBytes } from 'node:crypto';
import mqtt from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import { startBroker } from '../start.js';
import type { BrokerOptions, RunningBroker } from '../start.js';
import { OBSERVER_ACCOUNT } from '../application/acl-from-declarations.js';
import { TEST_DECLARATIONS } from './declarations.js';
import { devPassword } from '../config/credentials.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export function devUsers(): Map<string, string> {
  return new Map([...TEST_DECLARATIONS.map((d) => d.service), OBSERVER_ACCOUNT].map((u) => [u, devPassword(u)]));
}

/** A broker on free ports for the stand-in services of testing/declarations.ts. */
export function startTestBroker(options: Partial<BrokerOptions> = {}): Promise<RunningBroker> {
  return startBroker({
    mqttPort: 0,
    wsPort: 0,
    httpPort: 0,
    users: devUsers(),
    adminToken: ADMIN_TOKEN,
    declarations: TEST_DECLARATIONS,
    ...options,
  });
}

// A private redis-server per test file: shared with other packages' tests (@albergue/messaging/testing).
export { startRedisServer } from '@albergue/messaging/testing';
export type { TestRedis } from '@albergue/messaging/testing';

/**
 * Connects an MQTT 3.1.1 client; rejects with the broker's refusal. Pass `onMessage` to listen
 * before the CONNACK: a resumed session's queued messages can arrive in the same read.
 */
export async function connectMqtt(
  url: string,
  options: IClientOptions = {},
  onMessage?: (topic: string, payload: Buffer) => void,
): Promise<MqttClient> {
  // A CONNACK of a persistent session on Redis has, rarely, never come (once in about six CI runs; not
  // understood yet, see the closing notes of stops 19 and 20). The services' clients reconnect on
  // their own, so the harness does what they do: a new connection after 8 s, at most three, each
  // retry reported on stderr so that it stays visible. A broker that never answers still fails.
  for (let attempt = 1; ; attempt++) {
    try {
      return await connectOnce(url, options, onMessage);
    } catch (err) {
      if (attempt >= 3 || !(err instanceof Error) || err.message !== 'connack timeout') throw err;
      console.error(`connectMqtt: no CONNACK from ${url} for ${String(options.clientId)} within 8 s, connecting again (${attempt}/2)`);
    }
  }
}

function connectOnce(url: string, options: IClientOptions, onMessage?: (topic: string, payload: Buffer) => void): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 8_000, ...options });
    if (onMessage) client.on('message', onMessage);
    client.once('connect', () => {
      client.removeAllListeners('error');
      client.on('error', () => undefined);
      resolve(client);
    });
    client.once('error', (err) => {
      client.end(true);
      reject(err);
    });
    client.once('close', () => reject(new Error('connection closed before CONNACK')));
  });
}

/** Credentials of `service`, with a client id under its own prefix (`albergue-<service>-test-…`) unless `extra` sets one. */
export function asService(service: string, extra: IClientOptions = {}): IClientOptions {
  return {
    username: service,
    password: devPassword(service),
    clientId: `albergue-${service}-test-${randomBytes(4).toString('hex')}`,
    ...extra,
  };
}

export async function closeMqtt(...clients: (MqttClient | undefined)[]): Promise<void> {
  await Promise.all(clients.map((c) => (c ? c.endAsync(true).catch(() => undefined) : Promise.resolve())));
}
