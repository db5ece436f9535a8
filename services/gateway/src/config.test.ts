import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { ConfigError } from '@albergue/platform';
import { keyHashOf } from './application/keys.js';
import { CONTEXT_PORTS, gatewayConfig } from './config.js';

const KEYS = JSON.stringify([{ client_id: 'app', key_hash: keyHashOf('k'.repeat(40)), scopes: ['guest'] }]);
const SECRET = 's'.repeat(32);

test('embedded defaults: every context on its loopback port, memory buckets, development keys, no secret', () => {
  const c = gatewayConfig({});
  assert.equal(c.port, 8080);
  assert.equal(c.upstreams.booking, 'http://127.0.0.1:8102');
  assert.deepEqual(Object.keys(c.upstreams).sort(), Object.keys(CONTEXT_PORTS).sort());
  assert.equal(c.redisUrl, undefined);
  assert.equal(c.secret, undefined);
  assert.equal(c.keys.length, 3);
  assert.equal(c.mqttPassword, 'gateway-dev-password');
  assert.equal(gatewayConfig({ DOCUMENTS_URL: 'http://docs:9000/' }).upstreams.documents, 'http://docs:9000');
});

test('production refuses development credentials, a missing or short secret; mistakes name the variable', () => {
  const prod = { NODE_ENV: 'production', GATEWAY_KEYS: KEYS, GATEWAY_SHARED_SECRET: SECRET, GATEWAY_MQTT_PASSWORD: 'p' };
  assert.equal(gatewayConfig(prod).secret, SECRET);
  const without = (name: string) => Object.fromEntries(Object.entries(prod).filter(([k]) => k !== name));
  assert.throws(() => gatewayConfig(without('GATEWAY_SHARED_SECRET')), /GATEWAY_SHARED_SECRET is required/);
  assert.throws(() => gatewayConfig({ ...prod, GATEWAY_SHARED_SECRET: 'short' }), /at least 32/);
  assert.throws(() => gatewayConfig(without('GATEWAY_KEYS')), /GATEWAY_KEYS/);
  assert.throws(() => gatewayConfig(without('GATEWAY_MQTT_PASSWORD')), /GATEWAY_MQTT_PASSWORD/);
  assert.throws(
    () => gatewayConfig({ BOOKING_URL: 'http://b:1/prefix' }),
    (e: Error) => e instanceof ConfigError && /BOOKING_URL/.test(e.message),
  );
  assert.throws(() => gatewayConfig({ BOOKING_URL: 'ftp://b' }), /BOOKING_URL must use/);
  assert.throws(() => gatewayConfig({ GATEWAY_RATE_LIMIT: '0' }), /GATEWAY_RATE_LIMIT/);
});
