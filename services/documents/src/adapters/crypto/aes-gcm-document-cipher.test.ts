import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { ConfigError } from '@albergue/platform';
import { AesGcmDocumentCipher, DEV_DOCUMENTS_ENCRYPTION_KEY, encryptionKeyFromEnv, parseEncryptionKey } from './aes-gcm-document-cipher.js';

const key = randomBytes(32);

describe('AES-256-GCM document cipher', () => {
  test('seal → open round-trips; each seal differs (random IV); the text is not in the sealed value', () => {
    const c = new AesGcmDocumentCipher(key);
    const a = c.seal('12345678Z', 'document:d1:number');
    const b = c.seal('12345678Z', 'document:d1:number');
    assert.notEqual(a, b);
    assert.ok(!a.includes('12345678Z') && !Buffer.from(a.slice(3), 'base64url').toString('latin1').includes('12345678'));
    assert.equal(c.open(a, 'document:d1:number'), '12345678Z');
    assert.equal(c.open(c.seal('ñandú €', 'x'), 'x'), 'ñandú €');
  });

  test('another context (row or field), another key, or a flipped bit → refused, never garbage', () => {
    const c = new AesGcmDocumentCipher(key);
    const sealed = c.seal('12345678Z', 'document:d1:number');
    assert.throws(() => c.open(sealed, 'document:d2:number'), /does not open/);
    assert.throws(() => c.open(sealed, 'document:d1:mrz'), /does not open/);
    assert.throws(() => new AesGcmDocumentCipher(randomBytes(32)).open(sealed, 'document:d1:number'), /does not open/);
    const bytes = Buffer.from(sealed.slice(3), 'base64url');
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 1, bytes.length - 1);
    assert.throws(() => c.open(`v1.${bytes.toString('base64url')}`, 'document:d1:number'), /does not open/);
    assert.throws(() => c.open('v2.AAAA', 'x'), /unknown format/);
    assert.throws(() => c.open('v1.AAAA', 'x'), /too short/);
  });

  test('key id and blind index: stable per key, different across keys, not the key', () => {
    const c = new AesGcmDocumentCipher(key);
    const d = new AesGcmDocumentCipher(randomBytes(32));
    assert.equal(c.keyId, new AesGcmDocumentCipher(key).keyId);
    assert.notEqual(c.keyId, d.keyId);
    assert.ok(!key.toString('hex').includes(c.keyId));
    assert.equal(c.blindIndex('12345678Z'), new AesGcmDocumentCipher(key).blindIndex('12345678Z'));
    assert.notEqual(c.blindIndex('12345678Z'), d.blindIndex('12345678Z'));
    assert.match(c.blindIndex('12345678Z'), /^[0-9a-f]{64}$/);
  });

  test('keys: 64 hex or base64 of 32 bytes; short or long keys and passphrases refused', () => {
    assert.equal(parseEncryptionKey(key.toString('hex')).length, 32);
    assert.equal(parseEncryptionKey(key.toString('base64')).length, 32);
    for (const bad of [
      randomBytes(16).toString('hex'),
      randomBytes(31).toString('base64'),
      randomBytes(33).toString('base64'),
      'correct horse battery staple',
      '',
    ])
      assert.throws(() => parseEncryptionKey(bad), ConfigError, bad);
  });

  test('environment: the development key without NODE_ENV=production; refused in production when unset, short or the dev key', () => {
    assert.deepEqual(encryptionKeyFromEnv({}), parseEncryptionKey(DEV_DOCUMENTS_ENCRYPTION_KEY));
    const own = key.toString('base64');
    assert.deepEqual(encryptionKeyFromEnv({ DOCUMENTS_ENCRYPTION_KEY: own, NODE_ENV: 'production' }), key);
    assert.throws(() => encryptionKeyFromEnv({ NODE_ENV: 'production' }), /set DOCUMENTS_ENCRYPTION_KEY/);
    assert.throws(
      () => encryptionKeyFromEnv({ NODE_ENV: 'production', DOCUMENTS_ENCRYPTION_KEY: DEV_DOCUMENTS_ENCRYPTION_KEY }),
      /development key/,
    );
    assert.throws(() => encryptionKeyFromEnv({ NODE_ENV: 'production', DOCUMENTS_ENCRYPTION_KEY: 'c2hvcnQ=' }), /256-bit/);
    assert.throws(() => encryptionKeyFromEnv({ DOCUMENTS_ENCRYPTION_KEY: 'c2hvcnQ=' }), /256-bit/); // short keys in development too
  });
});
