import { describe, test } from 'node:test';
import { pino } from 'pino';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { ConfigError } from '@albergue/platform';
import { brokerOptionsFromEnv } from './env.js';
import { DEV_ADMIN_TOKEN, devPassword, passwordVar } from './credentials.js';
import { DEFAULT_MAX_PACKET_SIZE } from '../start.js';
import { startTestBroker } from '../testing/harness.js';

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

describe('NODE_ENV=production refuses development and weak secrets, naming the variable to set', () => {
  const strong = (u: string) => `${u}-0123456789abcdef-secret`;
  const accounts = ['location', 'booking', 'payment', 'documents', 'notifications', 'audit', 'gateway', 'observer'];
  const prodEnv = (extra: Record<string, string> = {}): Record<string, string> => ({
    NODE_ENV: 'production',
    BROKER_ADMIN_TOKEN: 'prod-admin-token-0123456789',
    ...Object.fromEntries(accounts.map((a) => [passwordVar(a), strong(a)])),
    ...extra,
  });
  const refused = (env: Record<string, string>, pattern: RegExp) => assert.throws(() => brokerOptionsFromEnv(env), (e: Error) => e instanceof ConfigError && pattern.test(e.message), `expected ${pattern}`);

  test('a complete production configuration is accepted', () => {
    const o = brokerOptionsFromEnv(prodEnv());
    assert.equal(o.adminToken, 'prod-admin-token-0123456789');
    assert.equal(o.users.get('payment'), strong('payment'));
    assert.deepEqual(o.devCredentials, []);
    assert.equal(o.allowAnonymous, false);
  });
  test('the development admin token, set explicitly', () => refused(prodEnv({ BROKER_ADMIN_TOKEN: DEV_ADMIN_TOKEN }), /BROKER_ADMIN_TOKEN.*development/));
  test('a missing admin token', () => {
    const env = prodEnv();
    delete env.BROKER_ADMIN_TOKEN;
    refused(env, /BROKER_ADMIN_TOKEN is required/);
  });
  test('an admin token under 16 characters (15 refused, in development too)', () => {
    refused(prodEnv({ BROKER_ADMIN_TOKEN: 'x'.repeat(15) }), /BROKER_ADMIN_TOKEN must be at least 16/);
    refused({ BROKER_ADMIN_TOKEN: 'x'.repeat(15) }, /BROKER_ADMIN_TOKEN must be at least 16/);
    assert.equal(brokerOptionsFromEnv(prodEnv({ BROKER_ADMIN_TOKEN: 'x'.repeat(16) })).adminToken, 'x'.repeat(16));
  });
  test('a development password, set explicitly through either variable', () => {
    refused(prodEnv({ BROKER_PASSWORD_PAYMENT: devPassword('payment') }), /BROKER_PASSWORD_PAYMENT.*development password/);
    refused(prodEnv({ BROKER_USERS: JSON.stringify({ booking: devPassword('booking') }) }), /BROKER_USERS\.booking.*development password.*BROKER_PASSWORD_BOOKING/);
  });
  test('a missing password (the development default would apply)', () => {
    const env = prodEnv();
    delete env.BROKER_PASSWORD_AUDIT;
    refused(env, /BROKER_PASSWORD_AUDIT/);
  });
  test('passwords under 16 characters (1 and 15 refused, 16 accepted)', () => {
    refused(prodEnv({ BROKER_PASSWORD_OBSERVER: 'x' }), /BROKER_PASSWORD_OBSERVER is shorter than 16/);
    refused(prodEnv({ BROKER_PASSWORD_GATEWAY: 'y'.repeat(15) }), /BROKER_PASSWORD_GATEWAY is shorter than 16/);
    refused(prodEnv({ BROKER_USERS: JSON.stringify({ location: 'short' }) }), /BROKER_USERS\.location is shorter than 16/);
    assert.equal(brokerOptionsFromEnv(prodEnv({ BROKER_PASSWORD_GATEWAY: 'y'.repeat(16) })).users.get('gateway'), 'y'.repeat(16));
  });
  test('anonymous access unless enabled for production explicitly', () => {
    refused(prodEnv({ BROKER_ALLOW_ANONYMOUS: 'true' }), /BROKER_ALLOW_ANONYMOUS_IN_PRODUCTION=true/);
    refused(prodEnv({ BROKER_ALLOW_ANONYMOUS: 'true', BROKER_ALLOW_ANONYMOUS_IN_PRODUCTION: 'yes' }), /BROKER_ALLOW_ANONYMOUS_IN_PRODUCTION must be true or false/);
    assert.equal(brokerOptionsFromEnv(prodEnv({ BROKER_ALLOW_ANONYMOUS: 'true', BROKER_ALLOW_ANONYMOUS_IN_PRODUCTION: 'true' })).allowAnonymous, true);
    assert.equal(brokerOptionsFromEnv({ BROKER_ALLOW_ANONYMOUS: 'true' }).allowAnonymous, true);
  });
  test('the MQTT packet limit is configurable and bounded', () => {
    assert.equal(brokerOptionsFromEnv({}).maxPacketSize, DEFAULT_MAX_PACKET_SIZE);
    assert.equal(brokerOptionsFromEnv({ BROKER_MAX_PACKET_SIZE: '4096' }).maxPacketSize, 4096);
    refused({ BROKER_MAX_PACKET_SIZE: '10' }, /BROKER_MAX_PACKET_SIZE/);
    refused({ BROKER_MAX_PACKET_SIZE: '1e9' }, /BROKER_MAX_PACKET_SIZE/);
  });
});

test('anonymous access is warned about at every start', async () => {
  const lines: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) });
  for (let i = 0; i < 2; i++) {
    const b = await startTestBroker({ allowAnonymous: true, wsPort: null, logger });
    await b.close();
  }
  assert.equal(lines.filter((l) => /anonymous MQTT access is enabled/.test(l)).length, 2);
});
