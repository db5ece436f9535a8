import { describe, test } from 'node:test';
import { pino } from 'pino';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { ConfigError } from '@albergue/platform';
import { brokerOptionsFromEnv } from './env.js';
import { TEST_DECLARATIONS } from '../testing/declarations.js';
import { DEV_ADMIN_TOKEN, devPassword, passwordVar } from './credentials.js';
import { DEFAULT_MAX_PACKET_SIZE } from '../start.js';
import { startTestBroker } from '../testing/harness.js';

/** Options for the test services from `env`. */
const fromEnv = (env: Record<string, string>) => brokerOptionsFromEnv(TEST_DECLARATIONS, env);

test('development defaults in the embedded mode, refused in production', () => {
  const o = fromEnv({});
  assert.deepEqual([o.mqttPort, o.wsPort, o.httpPort, o.redisUrl, o.allowAnonymous], [1884, 8884, 8090, undefined, false]);
  assert.equal(o.users.get('booking'), 'booking-dev-password');
  assert.equal(o.users.get('observer'), 'observer-dev-password');
  assert.throws(
    () => fromEnv({ NODE_ENV: 'production' }),
    (e: Error) => e instanceof ConfigError && /BROKER_PASSWORD_LOCATION/.test(e.message),
  );
});

test('no declarations, no broker: the caller is told that the composition root passes them', async () => {
  assert.throws(() => brokerOptionsFromEnv({} as never), /declarations of the services it serves/);
  await assert.rejects(startTestBroker({ declarations: undefined as never }), /declarations of the services it serves/);
});

test('passwords from BROKER_USERS and BROKER_PASSWORD_<USER>; bad values name the variable', () => {
  const o = fromEnv({
    BROKER_USERS: '{"booking":"b-secret"}',
    BROKER_PASSWORD_PAYMENT: 'p-secret',
    BROKER_WS_PORT: 'off',
    BROKER_ADMIN_TOKEN: 'a-long-enough-admin-token',
  });
  assert.deepEqual(
    [o.users.get('booking'), o.users.get('payment'), o.wsPort, o.adminToken],
    ['b-secret', 'p-secret', null, 'a-long-enough-admin-token'],
  );
  assert.throws(() => fromEnv({ BROKER_USERS: '{nope' }), /BROKER_USERS/);
  assert.throws(() => fromEnv({ BROKER_USERS: '{"mallory":"x"}' }), /mallory/);
  // An account exists only for a declared service: a password for one the system does not run is refused.
  assert.throws(() => fromEnv({ BROKER_USERS: '{"notifications":"x"}' }), /notifications/);
  assert.throws(() => fromEnv({ BROKER_MQTT_PORT: 'abc' }), /BROKER_MQTT_PORT/);
  assert.throws(() => fromEnv({ BROKER_ALLOW_ANONYMOUS: 'yes' }), /BROKER_ALLOW_ANONYMOUS/);
  assert.throws(() => fromEnv({ BROKER_ADMIN_TOKEN: 'short' }), /BROKER_ADMIN_TOKEN/);
});

test('a port already taken is a clear error naming the variable, and nothing is left running', async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const taken = (blocker.address() as { port: number }).port;
  try {
    await assert.rejects(
      startTestBroker({ mqttPort: taken }),
      (e: Error) => e instanceof ConfigError && /BROKER_MQTT_PORT/.test(e.message),
    );
    await assert.rejects(startTestBroker({ wsPort: taken }), /BROKER_WS_PORT/);
    await assert.rejects(startTestBroker({ httpPort: taken }), /BROKER_HTTP_PORT/);
  } finally {
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
  }
});

describe('NODE_ENV=production refuses development and weak secrets, naming the variable to set', () => {
  const strong = (u: string) => `${u}-0123456789abcdef-secret`;
  const accounts = [...TEST_DECLARATIONS.map((d) => d.service), 'observer'];
  const prodEnv = (extra: Record<string, string> = {}): Record<string, string> => ({
    NODE_ENV: 'production',
    BROKER_ADMIN_TOKEN: 'prod-admin-token-0123456789',
    ...Object.fromEntries(accounts.map((a) => [passwordVar(a), strong(a)])),
    ...extra,
  });
  const refused = (env: Record<string, string>, pattern: RegExp) =>
    assert.throws(
      () => fromEnv(env),
      (e: Error) => e instanceof ConfigError && pattern.test(e.message),
      `expected ${pattern}`,
    );

  test('a complete production configuration is accepted', () => {
    const o = fromEnv(prodEnv());
    assert.equal(o.adminToken, 'prod-admin-token-0123456789');
    assert.equal(o.users.get('payment'), strong('payment'));
    assert.deepEqual(o.devCredentials, []);
    assert.equal(o.allowAnonymous, false);
  });
  test('the development admin token, set explicitly', () =>
    refused(prodEnv({ BROKER_ADMIN_TOKEN: DEV_ADMIN_TOKEN }), /BROKER_ADMIN_TOKEN.*development/));
  test('a missing admin token', () => {
    const env = prodEnv();
    delete env.BROKER_ADMIN_TOKEN;
    refused(env, /BROKER_ADMIN_TOKEN is required/);
  });
  test('an admin token under 16 characters (15 refused, in development too)', () => {
    refused(prodEnv({ BROKER_ADMIN_TOKEN: 'x'.repeat(15) }), /BROKER_ADMIN_TOKEN must be at least 16/);
    refused({ BROKER_ADMIN_TOKEN: 'x'.repeat(15) }, /BROKER_ADMIN_TOKEN must be at least 16/);
    assert.equal(fromEnv(prodEnv({ BROKER_ADMIN_TOKEN: 'x'.repeat(16) })).adminToken, 'x'.repeat(16));
  });
  test('a development password, set explicitly through either variable', () => {
    refused(prodEnv({ BROKER_PASSWORD_PAYMENT: devPassword('payment') }), /BROKER_PASSWORD_PAYMENT.*development password/);
    refused(
      prodEnv({ BROKER_USERS: JSON.stringify({ booking: devPassword('booking') }) }),
      /BROKER_USERS\.booking.*development password.*BROKER_PASSWORD_BOOKING/,
    );
  });
  test('a missing password (the development default would apply)', () => {
    const env = prodEnv();
    delete env.BROKER_PASSWORD_AUDIT;
    refused(env, /BROKER_PASSWORD_AUDIT/);
  });
  test('passwords under 16 characters (1 and 15 refused, 16 accepted)', () => {
    refused(prodEnv({ BROKER_PASSWORD_OBSERVER: 'x' }), /BROKER_PASSWORD_OBSERVER is shorter than 16/);
    refused(prodEnv({ BROKER_PASSWORD_LOCATION: 'y'.repeat(15) }), /BROKER_PASSWORD_LOCATION is shorter than 16/);
    refused(prodEnv({ BROKER_USERS: JSON.stringify({ location: 'short' }) }), /BROKER_USERS\.location is shorter than 16/);
    assert.equal(fromEnv(prodEnv({ BROKER_PASSWORD_LOCATION: 'y'.repeat(16) })).users.get('location'), 'y'.repeat(16));
  });
  test('anonymous access unless enabled for production explicitly', () => {
    refused(prodEnv({ BROKER_ALLOW_ANONYMOUS: 'true' }), /BROKER_ALLOW_ANONYMOUS_IN_PRODUCTION=true/);
    refused(
      prodEnv({ BROKER_ALLOW_ANONYMOUS: 'true', BROKER_ALLOW_ANONYMOUS_IN_PRODUCTION: 'yes' }),
      /BROKER_ALLOW_ANONYMOUS_IN_PRODUCTION must be true or false/,
    );
    assert.equal(fromEnv(prodEnv({ BROKER_ALLOW_ANONYMOUS: 'true', BROKER_ALLOW_ANONYMOUS_IN_PRODUCTION: 'true' })).allowAnonymous, true);
    assert.equal(fromEnv({ BROKER_ALLOW_ANONYMOUS: 'true' }).allowAnonymous, true);
  });
  test('the MQTT packet limit is configurable and bounded', () => {
    assert.equal(fromEnv({}).maxPacketSize, DEFAULT_MAX_PACKET_SIZE);
    assert.equal(fromEnv({ BROKER_MAX_PACKET_SIZE: '4096' }).maxPacketSize, 4096);
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
