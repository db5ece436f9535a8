// DocumentCipher on AES-256-GCM (node:crypto): a random 96-bit IV per value, the 128-bit tag, and the
// context (document and field) as additional authenticated data. Keys come from DOCUMENTS_ENCRYPTION_KEY.
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { ConfigError, envOptional } from '@albergue/platform';
import type { DocumentCipher } from '../../application/ports.js';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * The development key of the embedded mode (`npm start`, tests): public, so refused with
 * NODE_ENV=production. Base64 of 32 bytes.
 */
export const DEV_DOCUMENTS_ENCRYPTION_KEY = Buffer.from('albergue-dev-documents-key-32byt').toString('base64');

/** 32 bytes from 64 hex characters or base64; anything else (a short key, a passphrase) is refused. */
export function parseEncryptionKey(raw: string, variable = 'DOCUMENTS_ENCRYPTION_KEY'): Buffer {
  const text = raw.trim();
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(text)) key = Buffer.from(text, 'hex');
  else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) key = Buffer.from(text, 'base64');
  if (!key || key.length !== 32)
    throw new ConfigError(
      `${variable} must be a 256-bit key: 64 hex characters or 32 bytes in base64 (e.g. \`openssl rand -base64 32\`), got ${key ? `${key.length} bytes` : 'neither'}`,
    );
  return key;
}

/**
 * The key of a documents service from its environment: DOCUMENTS_ENCRYPTION_KEY, else the development
 * key — refused with NODE_ENV=production, as is the development key set explicitly.
 */
export function encryptionKeyFromEnv(env: Record<string, string | undefined> = process.env): Buffer {
  const raw = envOptional('DOCUMENTS_ENCRYPTION_KEY', env);
  const production = env.NODE_ENV === 'production';
  if (raw === undefined) {
    if (production) throw new ConfigError('set DOCUMENTS_ENCRYPTION_KEY (the development key is refused with NODE_ENV=production)');
    return parseEncryptionKey(DEV_DOCUMENTS_ENCRYPTION_KEY);
  }
  const key = parseEncryptionKey(raw);
  if (production && key.equals(parseEncryptionKey(DEV_DOCUMENTS_ENCRYPTION_KEY)))
    throw new ConfigError('DOCUMENTS_ENCRYPTION_KEY is the public development key, refused with NODE_ENV=production');
  return key;
}

export class AesGcmDocumentCipher implements DocumentCipher {
  readonly keyId: string;
  private readonly key: Buffer;
  private readonly indexKey: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new ConfigError('the documents encryption key must be 32 bytes');
    this.key = Buffer.from(key);
    // Separate keys for separate purposes: the HMAC key is derived, never the encryption key itself.
    this.indexKey = Buffer.from(hkdfSync('sha256', this.key, Buffer.alloc(0), 'albergue documents blind index', 32));
    this.keyId = createHash('sha256').update('albergue documents key id').update(this.key).digest('hex').slice(0, 16);
  }

  /** `v1.<base64url(iv ‖ tag ‖ ciphertext)>`; the key id is stored next to it. */
  seal(plaintext: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `${VERSION}.${Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64url')}`;
  }

  open(sealed: string, context: string): string {
    const dot = sealed.indexOf('.');
    if (dot < 0 || sealed.slice(0, dot) !== VERSION) throw new Error('not a sealed value of this service (unknown format)');
    const bytes = Buffer.from(sealed.slice(dot + 1), 'base64url');
    if (bytes.length < IV_BYTES + TAG_BYTES) throw new Error('sealed value too short');
    const decipher = createDecipheriv('aes-256-gcm', this.key, bytes.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new Error('sealed value does not open with this key and context (another key, tampered, or moved to another row)');
    }
  }

  blindIndex(text: string): string {
    return createHmac('sha256', this.indexKey).update(text, 'utf8').digest('hex');
  }
}
