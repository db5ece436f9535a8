// Where audit asks for delivery facts: BROKER_URL (default the broker service's port), or nowhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { brokerFromEnv } from './service.js';

test('BROKER_URL: the broker API audit asks, its default, `off` for none; the development token is refused in production', () => {
  assert.deepEqual(brokerFromEnv({}), { url: 'http://127.0.0.1:8090', adminToken: 'albergue-dev-admin-token' });
  assert.equal(brokerFromEnv({ BROKER_URL: 'http://127.0.0.1:9999', BROKER_ADMIN_TOKEN: 't' })?.url, 'http://127.0.0.1:9999');
  assert.equal(brokerFromEnv({ BROKER_URL: 'off' }), null);
  assert.equal(brokerFromEnv({ BROKER_URL: 'off', NODE_ENV: 'production' }), null, 'no token needed when nothing is asked');
  assert.throws(() => brokerFromEnv({ NODE_ENV: 'production' }), /BROKER_ADMIN_TOKEN/);
  assert.throws(() => brokerFromEnv({ BROKER_URL: 'ftp://x' }), /BROKER_URL/);
});
