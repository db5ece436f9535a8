import { ConfigError, envInt, envOptional, envPort, envUrl } from '@albergue/platform';
import { gatewaySecretFromEnv } from '@albergue/platform/gateway-signature';
import type { ClientKey } from './application/keys.js';
import { keysFromEnv } from './application/keys.js';
import type { RateLimit } from './application/ports.js';
import { redisUrlFromEnv } from '@albergue/messaging';

type Env = Record<string, string | undefined>;

/** Every context the gateway routes, with its service's default loopback port (`<CONTEXT>_URL` moves it). */
export const CONTEXT_PORTS: Readonly<Record<string, number>> = {
  location: 8101,
  booking: 8102,
  payment: 8103,
  documents: 8104,
  notifications: 8105,
  audit: 8106,
  operations: 8107,
};

export interface GatewayConfig {
  readonly host: string;
  readonly port: number;
  readonly portVar: string;
  /** context → the service's base URL (origin only). */
  readonly upstreams: Readonly<Record<string, string>>;
  readonly keys: readonly ClientKey[];
  /** GATEWAY_SHARED_SECRET: forwarded requests are signed with it (required in production). */
  readonly secret: string | undefined;
  /** Redis for the shared buckets, or undefined for memory (embedded mode). */
  readonly redisUrl: string | undefined;
  /** Per client key and route. */
  readonly keyLimit: RateLimit;
  /** Per IP, for requests without a valid key. */
  readonly ipLimit: RateLimit;
  readonly bodyLimit: number;
  /** Upstream answer timeout in ms. */
  readonly upstreamTimeoutMs: number;
  readonly mqttUrl: string;
  readonly mqttUsername: string;
  readonly mqttPassword: string;
  readonly instanceId: string;
}

/**
 * GATEWAY_PORT (8080), HOST, `<CONTEXT>_URL` per context, GATEWAY_KEYS / GATEWAY_KEYS_FILE,
 * GATEWAY_SHARED_SECRET, REDIS_URL, GATEWAY_RATE_LIMIT / GATEWAY_RATE_WINDOW_S (per key and route),
 * GATEWAY_IP_RATE_LIMIT (per IP without a valid key, same window), GATEWAY_BODY_LIMIT,
 * GATEWAY_UPSTREAM_TIMEOUT_MS, MQTT_URL, GATEWAY_MQTT_PASSWORD (or MQTT_PASSWORD).
 */
export function gatewayConfig(env: Env = process.env): GatewayConfig {
  const production = env.NODE_ENV === 'production';
  const upstreams: Record<string, string> = {};
  for (const [context, port] of Object.entries(CONTEXT_PORTS)) {
    const name = `${context.toUpperCase()}_URL`;
    const raw = envUrl(name, ['http:', 'https:'], env);
    if (raw !== undefined && new URL(raw).pathname.replace(/\/$/, '') !== '')
      throw new ConfigError(`${name}=${raw}: give the service's origin only (scheme, host, port), no path`);
    upstreams[context] = (raw ?? `http://127.0.0.1:${port}`).replace(/\/$/, '');
  }
  const windowS = envInt('GATEWAY_RATE_WINDOW_S', 60, { min: 1, max: 86_400 }, env);
  const password = envOptional('GATEWAY_MQTT_PASSWORD', env) ?? envOptional('MQTT_PASSWORD', env);
  if (production && password === undefined)
    throw new ConfigError('set GATEWAY_MQTT_PASSWORD or MQTT_PASSWORD (development passwords are refused with NODE_ENV=production)');
  const username = envOptional('GATEWAY_MQTT_USERNAME', env) ?? 'gateway';
  return {
    host: envOptional('HOST', env) ?? '127.0.0.1',
    port: envPort('GATEWAY_PORT', 8080, env),
    portVar: 'GATEWAY_PORT',
    upstreams,
    keys: keysFromEnv(env),
    secret: gatewaySecretFromEnv(env),
    redisUrl: redisUrlFromEnv('REDIS_URL', env),
    keyLimit: { limit: envInt('GATEWAY_RATE_LIMIT', 120, { min: 1 }, env), windowS },
    ipLimit: { limit: envInt('GATEWAY_IP_RATE_LIMIT', 60, { min: 1 }, env), windowS },
    bodyLimit: envInt('GATEWAY_BODY_LIMIT', 1024 * 1024, { min: 1024 }, env),
    upstreamTimeoutMs: envInt('GATEWAY_UPSTREAM_TIMEOUT_MS', 30_000, { min: 100 }, env),
    mqttUrl: envUrl('MQTT_URL', ['mqtt:', 'mqtts:', 'ws:', 'wss:', 'tcp:'], env) ?? 'mqtt://127.0.0.1:1884',
    mqttUsername: username,
    mqttPassword: password ?? `${username}-dev-password`,
    instanceId: env.INSTANCE_ID ?? '0',
  };
}
