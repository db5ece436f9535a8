// The gateway's signature on a forwarded request, and its verification by the services: a service
// in production answers only requests that came through the gateway (docs/gateway.md, "Services
// refuse bypass"). One HMAC-SHA256 with GATEWAY_SHARED_SECRET over everything the service acts on.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { ConfigError } from './config.js';

/** `v1;t=<unix ms>;n=<nonce>;b=<sha256 hex of the body>;s=<base64url HMAC>`. */
export const GATEWAY_SIGNATURE_HEADER = 'x-albergue-signature';
/** The authenticated client (signed): the `client_id` of its API key. */
export const GATEWAY_CLIENT_HEADER = 'x-albergue-client-id';
/** The client's scopes, space separated, sorted (signed). */
export const GATEWAY_SCOPES_HEADER = 'x-albergue-scopes';
/** Shortest GATEWAY_SHARED_SECRET accepted (characters). */
export const MIN_GATEWAY_SECRET_LENGTH = 32;
/** How far a signature's timestamp may be from the service's clock (default), in ms. */
export const DEFAULT_SIGNATURE_WINDOW_MS = 30_000;

/** The sha256 (hex) of an empty body. */
export const EMPTY_BODY_SHA256 = createHash('sha256').update('').digest('hex');

export interface SignedParts {
  readonly method: string;
  /** The request target as sent to the service: path and query, exactly. */
  readonly target: string;
  readonly timestampMs: number;
  /** Unique per request (the gateway's request id): lets a service refuse a replay inside the window. */
  readonly nonce: string;
  readonly clientId: string;
  readonly scopes: string;
  /** sha256 hex of the body bytes as forwarded (EMPTY_BODY_SHA256 without a body). */
  readonly bodySha256: string;
}

const NONCE = /^[A-Za-z0-9-]{8,64}$/;
const HEX64 = /^[0-9a-f]{64}$/;

function canonical(p: SignedParts): string {
  return ['albergue-gateway-v1', p.method.toUpperCase(), p.target, String(p.timestampMs), p.nonce, p.clientId, p.scopes, p.bodySha256].join(
    '\n',
  );
}

function mac(secret: string, p: SignedParts): Buffer {
  return createHmac('sha256', secret).update(canonical(p)).digest();
}

/** The header value for a request the gateway forwards. */
export function signGatewayRequest(secret: string, p: SignedParts): string {
  if (!NONCE.test(p.nonce)) throw new Error('nonce must be 8-64 letters, digits or dashes');
  if (/[\r\n]/.test(p.target + p.clientId + p.scopes)) throw new Error('signed parts may not contain line breaks');
  return `v1;t=${p.timestampMs};n=${p.nonce};b=${p.bodySha256};s=${mac(secret, p).toString('base64url')}`;
}

export type SignatureCheck =
  | { readonly ok: true; readonly nonce: string; readonly timestampMs: number; readonly bodySha256: string }
  | { readonly ok: false; readonly reason: string };

/**
 * Checks the gateway's signature on a request (without its body: the caller compares the body's
 * digest with `bodySha256` once it has read it). The MAC is compared in constant time.
 */
export function verifyGatewaySignature(
  secret: string,
  header: string | undefined,
  req: { readonly method: string; readonly target: string; readonly clientId: string; readonly scopes: string },
  nowMs: number,
  windowMs = DEFAULT_SIGNATURE_WINDOW_MS,
): SignatureCheck {
  if (header === undefined || header === '') return { ok: false, reason: `no ${GATEWAY_SIGNATURE_HEADER} header` };
  const m = /^v1;t=(\d{1,15});n=([^;]*);b=([^;]*);s=([A-Za-z0-9_-]{43})$/.exec(header);
  if (!m) return { ok: false, reason: `malformed ${GATEWAY_SIGNATURE_HEADER} header` };
  const timestampMs = Number(m[1]);
  const nonce = m[2]!;
  const bodySha256 = m[3]!;
  if (!NONCE.test(nonce) || !HEX64.test(bodySha256)) return { ok: false, reason: `malformed ${GATEWAY_SIGNATURE_HEADER} header` };
  const expected = mac(secret, { ...req, timestampMs, nonce, bodySha256 });
  const given = Buffer.from(m[4]!, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'signature does not match' };
  // Checked after the MAC, so the answer about the clock is given only to the gateway.
  if (Math.abs(nowMs - timestampMs) > windowMs) return { ok: false, reason: 'signature expired (outside the replay window)' };
  return { ok: true, nonce, timestampMs, bodySha256 };
}

/**
 * Where a service remembers the signature nonces it accepted. Contract: `firstUse` is true exactly
 * once per nonce among every instance sharing the store, for at least twice the replay window (a
 * signature older than the window is refused by its timestamp anyway).
 */
export interface NonceStore {
  firstUse(nonce: string, nowMs: number): boolean | Promise<boolean>;
}

/**
 * Nonces seen within the replay window (per process): a second request with a nonce already seen is
 * a replay. Bounded: past `max` entries the oldest are dropped (they expire first anyway). Shared by
 * nothing: with several instances, a replay sent to another instance passes — use a shared store there.
 */
export class NonceGuard implements NonceStore {
  private readonly seen = new Map<string, number>();
  constructor(
    private readonly windowMs = DEFAULT_SIGNATURE_WINDOW_MS,
    private readonly max = 200_000,
  ) {}

  /** True the first time a nonce is seen (and remembers it), false for a replay. */
  firstUse(nonce: string, nowMs: number): boolean {
    if (this.seen.has(nonce)) return false;
    // Entries are in insertion order, roughly by time: drop the expired ones from the front.
    for (const [n, expires] of this.seen) {
      if (expires > nowMs && this.seen.size < this.max) break;
      this.seen.delete(n);
    }
    this.seen.set(nonce, nowMs + 2 * this.windowMs);
    return true;
  }
}

/** The secret from the environment: required (and long) in production, optional otherwise. */
export function gatewaySecretFromEnv(env: Record<string, string | undefined>): string | undefined {
  const secret = env.GATEWAY_SHARED_SECRET === '' ? undefined : env.GATEWAY_SHARED_SECRET;
  if (secret === undefined) {
    if (env.NODE_ENV === 'production')
      throw new ConfigError(
        'GATEWAY_SHARED_SECRET is required with NODE_ENV=production (services accept only requests signed by the gateway)',
      );
    return undefined;
  }
  if (secret.length < MIN_GATEWAY_SECRET_LENGTH)
    throw new ConfigError(`GATEWAY_SHARED_SECRET must be at least ${MIN_GATEWAY_SECRET_LENGTH} characters (got ${secret.length})`);
  return secret;
}
