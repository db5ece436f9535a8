import { strict as assert } from 'node:assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '@albergue/platform';
import { DEV_KEYS, KeyRing, MIN_KEY_LENGTH, keyHashOf, keysFromEnv, parseKeyList } from './keys.js';

const key = (c: string) => c.repeat(40);

test('development keys exist only outside production; production needs configured keys', () => {
  const dev = keysFromEnv({});
  assert.deepEqual(
    dev.map((k) => k.client_id),
    DEV_KEYS.map((k) => k.client_id),
  );
  assert.ok(
    DEV_KEYS.every((k) => k.key.length >= MIN_KEY_LENGTH),
    'the development keys pass the length rule',
  );
  assert.throws(
    () => keysFromEnv({ NODE_ENV: 'production' }),
    (e: Error) => e instanceof ConfigError && /GATEWAY_KEYS/.test(e.message),
  );
  const devInProd = JSON.stringify([{ client_id: 'x', key_hash: keyHashOf(DEV_KEYS[0]!.key), scopes: ['guest'] }]);
  assert.throws(() => keysFromEnv({ NODE_ENV: 'production', GATEWAY_KEYS: devInProd }), /development key is refused/);
  const prod = JSON.stringify([{ client_id: 'app', key_hash: keyHashOf(key('a')), scopes: ['guest'] }]);
  assert.equal(keysFromEnv({ NODE_ENV: 'production', GATEWAY_KEYS: prod }).length, 1);
  // Configured keys replace the development ones.
  assert.deepEqual(
    keysFromEnv({ GATEWAY_KEYS: prod }).map((k) => k.client_id),
    ['app'],
  );
});

test('GATEWAY_KEYS_FILE and GATEWAY_KEYS add up; every mistake names the entry', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-keys-'));
  const file = join(dir, 'keys.json');
  writeFileSync(file, JSON.stringify([{ client_id: 'from-file', key_hash: keyHashOf(key('f')), scopes: ['hostel', 'hostel'] }]));
  const keys = keysFromEnv({
    GATEWAY_KEYS_FILE: file,
    GATEWAY_KEYS: JSON.stringify([{ client_id: 'inline', key_hash: keyHashOf(key('i')), scopes: ['operator'] }]),
  });
  assert.deepEqual(
    keys.map((k) => [k.client_id, k.scopes]),
    [
      ['inline', ['operator']],
      ['from-file', ['hostel']],
    ],
  );
  assert.throws(() => keysFromEnv({ GATEWAY_KEYS_FILE: join(dir, 'missing.json') }), /cannot be read/);
  assert.throws(() => keysFromEnv({ GATEWAY_KEYS: '{' }), /not JSON/);
  const bad = (entry: unknown) => () => parseKeyList([entry], 'K');
  assert.throws(bad({ client_id: 'a', key: key('a'), scopes: ['guest'] }), /unknown fields: key/);
  assert.throws(bad({ client_id: 'a', key_hash: 'md5:abc', scopes: ['guest'] }), /K\[0\]\.key_hash/);
  assert.throws(bad({ client_id: 'a', key_hash: keyHashOf(key('a')), scopes: ['admin'] }), /K\[0\]\.scopes/);
  assert.throws(bad({ client_id: 'a', key_hash: keyHashOf(key('a')), scopes: [] }), /K\[0\]\.scopes/);
  assert.throws(bad({ client_id: 'A B', key_hash: keyHashOf(key('a')), scopes: ['guest'] }), /client_id/);
  assert.throws(() => parseKeyList({}, 'K'), /JSON array/);
  const twice = { client_id: 'a', key_hash: keyHashOf(key('a')), scopes: ['guest'] };
  assert.throws(() => parseKeyList([twice, { ...twice, client_id: 'b' }], 'K'), /listed twice/);
});

test('a presented key is checked by its hash; short, long and unknown keys are refused', () => {
  const ring = new KeyRing(parseKeyList([{ client_id: 'ana', key_hash: keyHashOf(key('a')), scopes: ['guest'], guest_id: 'g-ana' }], 'K'));
  const ok = ring.authenticate(key('a'));
  assert.ok(ok.ok);
  assert.equal(ok.client.clientId, 'ana');
  assert.equal(ok.client.guestId, 'g-ana');
  assert.match(ok.client.keyHash, /^[0-9a-f]{64}$/);
  assert.equal(ring.authenticate(key('b')).ok, false);
  assert.equal(ring.authenticate(`${key('a')}x`).ok, false);
  const short = ring.authenticate('a'.repeat(MIN_KEY_LENGTH - 1));
  assert.ok(!short.ok && /characters/.test(short.reason));
  assert.equal(ring.authenticate('a'.repeat(300)).ok, false);
});
