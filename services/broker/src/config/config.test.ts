import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { ConfigError } from '@albergue/platform';
import { brokerOptionsFromEnv } from './env';
import { startTestBroker } from '../testing/harness';

test('development defaults in the embedded mode, refused in production', () => {
  const o = brokerOptionsFromEnv({});
  assert.deepEqual([o.mqttPort, o.wsPort, o.httpPort, o.redisUrl, o.allowAnonymous], [1884, 8884, 8090, undefined, false]);
  assert.equal(o.users.get('booking'), 'booking-dev-password');
  assert.equal(o.users.get('observer'), 'observer-dev-password');
  assert.throws(() => brokerOptionsFromEnv({ NODE_ENV: 'production' }), (e: Error) => e instanceof ConfigError && /BROKER_PASSWORD_LOCATION/.test(e.message));
});

test('passwords from BROKER_USERS and BROKER_PASSWORD_<USER>; bad values name the variable', () => {
  const o = brokerOptionsFromEnv({ BROKER_USERS: '{"booking":"b-secret"}', BROKER_PASSWORD_PAYMENT: 'p-secret', BROKER_WS_PORT: 'off', BROKER_ADMIN_TOKEN: 'a-long-enough-admin-token' });
  assert.deepEqual([o.users.get('booking'), o.users.get('payment'), o.wsPort, o.adminToken], ['b-secret', 'p-secret', null, 'a-long-enough-admin-token']);
  assert.throws(() => brokerOptionsFromEnv({ BROKER_USERS: '{nope' }), /BROKER_USERS/);
  assert.throws(() => brokerOptionsFromEnv({ BROKER_USERS: '{"mallory":"x"}' }), /mallory/);
  assert.throws(() => brokerOptionsFromEnv({ BROKER_MQTT_PORT: 'abc' }), /BROKER_MQTT_PORT/);
  assert.throws(() => brokerOptionsFromEnv({ BROKER_ALLOW_ANONYMOUS: 'yes' }), /BROKER_ALLOW_ANONYMOUS/);
  assert.throws(() => brokerOptionsFromEnv({ BROKER_ADMIN_TOKEN: 'short' }), /BROKER_ADMIN_TOKEN/);
});

test('a port already taken is a clear error naming the variable, and nothing is left running', async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const taken = (blocker.address() as { port: number }).port;
  try {
    await assert.rejects(startTestBroker({ mqttPort: taken }), (e: Error) => e instanceof ConfigError && /BROKER_MQTT_PORT/.test(e.message));
    await assert.rejects(startTestBroker({ wsPort: taken }), /BROKER_WS_PORT/);
    await assert.rejects(startTestBroker({ httpPort: taken }), /BROKER_HTTP_PORT/);
  } finally {
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
  }
});
