import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { ConfigError } from '@albergue/platform';
import { serviceConfig } from './config.js';

test('embedded defaults: PGlite under DATA_DIR, the embedded broker, memory ledger, development password', () => {
  const c = serviceConfig('booking', 8102, { DATA_DIR: '/tmp/alb' });
  assert.equal(c.port, 8102);
  assert.equal(c.portVar, 'BOOKING_PORT');
  assert.equal(c.databaseUrl, undefined);
  assert.equal(c.dataDir, '/tmp/alb/booking');
  assert.equal(c.mqttUrl, 'mqtt://127.0.0.1:1884');
  assert.equal(c.mqttUsername, 'booking');
  assert.equal(c.mqttPassword, 'booking-dev-password');
  assert.equal(c.redisUrl, undefined);
});

test('a per-service DATABASE_URL wins over the shared one; ports and URLs come from the environment', () => {
  const c = serviceConfig('booking', 8102, {
    DATABASE_URL: 'postgres://x@h/shared',
    BOOKING_DATABASE_URL: 'postgres://x@h/booking',
    BOOKING_PORT: '9000',
    MQTT_URL: 'mqtt://broker:1883',
    REDIS_URL: 'redis://r:6379',
    BOOKING_MQTT_PASSWORD: 's3cret',
  });
  assert.equal(c.databaseUrl, 'postgres://x@h/booking');
  assert.equal(c.port, 9000);
  assert.equal(c.mqttUrl, 'mqtt://broker:1883');
  assert.equal(c.redisUrl, 'redis://r:6379');
  assert.equal(c.mqttPassword, 's3cret');
});

test('configuration mistakes are errors that name the variable', () => {
  assert.throws(
    () => serviceConfig('booking', 8102, { BOOKING_PORT: 'eighty' }),
    (e: Error) => e instanceof ConfigError && /BOOKING_PORT/.test(e.message),
  );
  assert.throws(() => serviceConfig('booking', 8102, { BOOKING_PORT: '70000' }), /BOOKING_PORT=70000 is above the maximum/);
  assert.throws(() => serviceConfig('booking', 8102, { DATABASE_URL: 'mysql://x' }), /DATABASE_URL must use postgres:/);
  assert.throws(() => serviceConfig('booking', 8102, { MQTT_URL: 'not a url' }), /MQTT_URL="not a url" is not a URL/);
  assert.throws(
    () => serviceConfig('booking', 8102, { NODE_ENV: 'production', DATABASE_URL: 'postgres://h/db' }),
    /set BOOKING_MQTT_PASSWORD or MQTT_PASSWORD/,
  );
  assert.throws(
    () => serviceConfig('booking', 8102, { NODE_ENV: 'production', MQTT_PASSWORD: 'p' }),
    /set BOOKING_DATABASE_URL or DATABASE_URL/,
  );
});

test('MQTT_PROTOCOL_VERSION and MQTT_SUBSCRIPTION_MODE: defaults auto/fanout; bad values and shared over 3.1.1 name the variable', () => {
  const c = serviceConfig('booking', 8102, {});
  assert.equal(c.mqttProtocolVersion, 'auto');
  assert.equal(c.mqttSubscriptionMode, 'fanout');
  const s = serviceConfig('booking', 8102, { MQTT_PROTOCOL_VERSION: '5', MQTT_SUBSCRIPTION_MODE: 'shared' });
  assert.equal(s.mqttProtocolVersion, 5);
  assert.equal(s.mqttSubscriptionMode, 'shared');
  assert.equal(serviceConfig('booking', 8102, { MQTT_PROTOCOL_VERSION: '3.1.1' }).mqttProtocolVersion, 4);
  assert.throws(
    () => serviceConfig('booking', 8102, { MQTT_PROTOCOL_VERSION: '3' }),
    (e: Error) => e instanceof ConfigError && /MQTT_PROTOCOL_VERSION must be auto, 4/.test(e.message),
  );
  assert.throws(
    () => serviceConfig('booking', 8102, { MQTT_SUBSCRIPTION_MODE: 'partitioned' }),
    (e: Error) => e instanceof ConfigError && /MQTT_SUBSCRIPTION_MODE must be fanout or shared/.test(e.message),
  );
  assert.throws(
    () => serviceConfig('booking', 8102, { MQTT_SUBSCRIPTION_MODE: 'shared', MQTT_PROTOCOL_VERSION: '4' }),
    (e: Error) => e instanceof ConfigError && /MQTT_SUBSCRIPTION_MODE=shared needs MQTT 5/.test(e.message),
  );
});
