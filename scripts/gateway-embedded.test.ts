// The gateway as `npm start` composes it: the embedded broker with the system's declarations gives
// the gateway its development MQTT account, the documented development keys work, and a burst past
// the limit reaches the observer as one RateLimitExceeded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import mqtt from 'mqtt';
import { brokerOptionsFromEnv, startBroker } from '@albergue/broker';
import type { EventEnvelope } from '@albergue/events';
import { parseEnvelope } from '@albergue/events';
import { DEV_KEYS, sha256Hex } from '@albergue/gateway';
import { createGatewayService } from '@albergue/gateway/service';
import { createLogger } from '@albergue/platform';
import { freePort, uniqueName, waitFor } from '@albergue/platform/testing';
import { SYSTEM_DECLARATIONS } from './declarations.js';

test('embedded: the gateway publishes with its development account; the development keys open their scopes', async () => {
  const env = { BROKER_MQTT_PORT: String(await freePort()), BROKER_HTTP_PORT: String(await freePort()), BROKER_WS_PORT: 'off' };
  const broker = await startBroker({ ...brokerOptionsFromEnv(SYSTEM_DECLARATIONS, env), logger: createLogger('broker') });
  const upstream = createServer((_req, res) => res.end('{}'));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const addr = upstream.address();
  const upstreamUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  const seen: EventEnvelope[] = [];
  const observer = await mqtt.connectAsync(broker.mqttUrl, {
    clientId: `albergue-observer-${uniqueName('gw')}`,
    username: 'observer',
    password: 'observer-dev-password',
  });
  observer.on('message', (_t, payload) => {
    const r = parseEnvelope(payload.toString());
    if (r.ok) seen.push(r.event);
  });
  await observer.subscribeAsync('albergue/gateway/#', { qos: 1 });
  const gateway = await createGatewayService({
    env: { GATEWAY_RATE_LIMIT: '3' },
    config: { port: 0, mqttUrl: broker.mqttUrl, upstreams: { booking: upstreamUrl, location: upstreamUrl } },
  });
  const url = await gateway.start();
  try {
    const key = (scope: string) => DEV_KEYS.find((k) => k.scopes.includes(scope as never))!.key;
    const get = (path: string, k: string) => fetch(`${url}${path}`, { headers: { 'x-api-key': k } });
    assert.equal((await get('/api/location/albergues', key('guest'))).status, 200);
    assert.equal((await get('/api/booking/guests/g-1/bookings', key('hostel'))).status, 403);
    assert.equal((await get('/api/booking/guests/g-1/bookings', key('operator'))).status, 200);
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await get('/api/booking/guests/g-1/bookings', key('guest'))).status);
    assert.deepEqual(statuses, [200, 200, 200, 429, 429, 429]);
    const hash = sha256Hex(key('guest'));
    await waitFor(() => seen.find((e) => (e.payload as { client_key_hash: string }).client_key_hash === hash), {
      message: 'RateLimitExceeded from the gateway account',
    });
    const health = (await (await fetch(`${url}/health`)).json()) as { checks: Record<string, string> };
    assert.equal(health.checks.mqtt, 'up');
    assert.equal(health.checks.rate_limiter, 'memory');
  } finally {
    await gateway.close();
    await observer.endAsync();
    await new Promise<void>((r) => upstream.close(() => r()));
    await broker.close();
  }
});
