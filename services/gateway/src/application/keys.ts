// Client API keys: configured as `{ client_id, key_hash, scopes, guest_id? }`, kept only as hashes,
// compared in constant time. Development keys exist only outside production.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '@albergue/platform';
import type { Scope } from '../domain/policy.js';
import { SCOPES } from '../domain/policy.js';

/** Shortest and longest key accepted (characters): a short key is refused before it is hashed. */
export const MIN_KEY_LENGTH = 32;
export const MAX_KEY_LENGTH = 256;

export interface ClientKey {
  readonly client_id: string;
  /** `sha256:<64 hex>` of the key's UTF-8 bytes. */
  readonly key_hash: string;
  readonly scopes: readonly Scope[];
  /** A guest key bound to one guest: routes with a `{guest_id}` parameter answer only for it. */
  readonly guest_id?: string;
}

/** An authenticated client. */
export interface Client {
  readonly clientId: string;
  readonly scopes: readonly Scope[];
  readonly guestId?: string;
  /** sha256 hex of the key: the rate-limit bucket and the RateLimitExceeded aggregate (never the key). */
  readonly keyHash: string;
}

/**
 * The development keys of the embedded mode (documented in the README so its curl works through the
 * gateway); refused with NODE_ENV=production. Each is long enough to pass the length rule.
 */
export const DEV_KEYS: readonly { readonly key: string; readonly client_id: string; readonly scopes: readonly Scope[] }[] = [
  { key: 'albergue-dev-guest-key-0000000000000001', client_id: 'dev-guest', scopes: ['guest'] },
  { key: 'albergue-dev-hostel-key-000000000000002', client_id: 'dev-hostel', scopes: ['hostel'] },
  { key: 'albergue-dev-operator-key-0000000000003', client_id: 'dev-operator', scopes: ['operator'] },
];

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** The `key_hash` of a key, as the configuration lists it. */
export function keyHashOf(key: string): string {
  return `sha256:${sha256Hex(key)}`;
}

const CLIENT_ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** Validates a parsed key list (from GATEWAY_KEYS or GATEWAY_KEYS_FILE); every mistake names the entry. */
export function parseKeyList(value: unknown, source: string): ClientKey[] {
  if (!Array.isArray(value)) throw new ConfigError(`${source} must be a JSON array of { client_id, key_hash, scopes }`);
  const seen = new Set<string>();
  return value.map((raw: unknown, i) => {
    const where = `${source}[${i}]`;
    if (typeof raw !== 'object' || raw === null) throw new ConfigError(`${where} must be an object`);
    const e = raw as Record<string, unknown>;
    const extra = Object.keys(e).filter((k) => !['client_id', 'key_hash', 'scopes', 'guest_id'].includes(k));
    if (extra.length > 0) throw new ConfigError(`${where} has unknown fields: ${extra.join(', ')} (keys are listed by hash: key_hash)`);
    if (typeof e.client_id !== 'string' || !CLIENT_ID.test(e.client_id))
      throw new ConfigError(`${where}.client_id must be 1-64 of a-z 0-9 . _ - (starting with a letter or digit)`);
    if (typeof e.key_hash !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(e.key_hash))
      throw new ConfigError(`${where}.key_hash must be "sha256:<64 lowercase hex>" (node services/gateway/dist/cli.js keygen prints one)`);
    if (!Array.isArray(e.scopes) || e.scopes.length === 0 || !e.scopes.every((s) => (SCOPES as readonly unknown[]).includes(s)))
      throw new ConfigError(`${where}.scopes must be a non-empty list of ${SCOPES.join(', ')}`);
    if (e.guest_id !== undefined && (typeof e.guest_id !== 'string' || e.guest_id.length === 0 || e.guest_id.length > 128))
      throw new ConfigError(`${where}.guest_id must be a guest id (1-128 characters)`);
    if (seen.has(e.key_hash)) throw new ConfigError(`${where}: the same key is listed twice`);
    seen.add(e.key_hash);
    return {
      client_id: e.client_id,
      key_hash: e.key_hash,
      scopes: [...new Set(e.scopes as Scope[])].sort(),
      ...(typeof e.guest_id === 'string' ? { guest_id: e.guest_id } : {}),
    };
  });
}

/**
 * The keys from the environment: GATEWAY_KEYS (JSON) and/or GATEWAY_KEYS_FILE (a JSON file). With
 * neither, the development keys — except with NODE_ENV=production, where no key at all is an error,
 * as is a development key's hash in the list.
 */
export function keysFromEnv(env: Record<string, string | undefined>): ClientKey[] {
  const production = env.NODE_ENV === 'production';
  const keys: ClientKey[] = [];
  const inline = env.GATEWAY_KEYS;
  if (inline !== undefined && inline !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(inline);
    } catch (err) {
      throw new ConfigError(`GATEWAY_KEYS is not JSON: ${(err as Error).message}`);
    }
    keys.push(...parseKeyList(parsed, 'GATEWAY_KEYS'));
  }
  const file = env.GATEWAY_KEYS_FILE;
  if (file !== undefined && file !== '') {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`GATEWAY_KEYS_FILE=${file} cannot be read: ${(err as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(`GATEWAY_KEYS_FILE=${file} is not JSON: ${(err as Error).message}`);
    }
    keys.push(...parseKeyList(parsed, 'GATEWAY_KEYS_FILE'));
  }
  const devHashes = new Set(DEV_KEYS.map((k) => keyHashOf(k.key)));
  if (production) {
    if (keys.length === 0)
      throw new ConfigError('set GATEWAY_KEYS or GATEWAY_KEYS_FILE (development keys are refused with NODE_ENV=production)');
    const dev = keys.find((k) => devHashes.has(k.key_hash));
    if (dev) throw new ConfigError(`${dev.client_id}: a development key is refused with NODE_ENV=production`);
    return keys;
  }
  if (keys.length > 0) return keys;
  return DEV_KEYS.map((k) => ({ client_id: k.client_id, key_hash: keyHashOf(k.key), scopes: k.scopes }));
}

/** Looks keys up by hash, comparing in constant time. */
export class KeyRing {
  private readonly byHash: { readonly hash: Buffer; readonly key: ClientKey }[];

  constructor(keys: readonly ClientKey[]) {
    this.byHash = keys.map((key) => ({ hash: Buffer.from(key.key_hash.slice('sha256:'.length), 'hex'), key }));
  }

  /**
   * The client of a presented key, or why not. The key is hashed (sha256) and the digest compared
   * with every configured one by `timingSafeEqual` (no early exit), so timing tells nothing about
   * how much of a hash matched.
   */
  authenticate(presented: string): { readonly ok: true; readonly client: Client } | { readonly ok: false; readonly reason: string } {
    if (presented.length < MIN_KEY_LENGTH || presented.length > MAX_KEY_LENGTH)
      return { ok: false, reason: `an API key has ${MIN_KEY_LENGTH}-${MAX_KEY_LENGTH} characters` };
    const hex = sha256Hex(presented);
    const digest = Buffer.from(hex, 'hex');
    let found: ClientKey | undefined;
    for (const entry of this.byHash) if (timingSafeEqual(entry.hash, digest) && found === undefined) found = entry.key;
    if (!found) return { ok: false, reason: 'unknown API key' };
    return {
      ok: true,
      client: {
        clientId: found.client_id,
        scopes: found.scopes,
        keyHash: hex,
        ...(found.guest_id !== undefined ? { guestId: found.guest_id } : {}),
      },
    };
  }
}
