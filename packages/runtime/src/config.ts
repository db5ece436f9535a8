import { join, resolve } from 'node:path';
import { ConfigError, envOptional, envPort, envUrl } from '@albergue/platform';
import { gatewaySecretFromEnv } from '@albergue/platform/gateway-signature';
import { redisUrlFromEnv } from '@albergue/messaging';
import type { MqttProtocolSetting, SubscriptionMode } from '@albergue/messaging';

type Env = Record<string, string | undefined>;

/** Where a service's pieces live, resolved from the environment with embedded defaults. */
export interface ServiceConfig {
  readonly service: string;
  readonly host: string;
  readonly port: number;
  /** Env variable that moves the port (named in the "port taken" error). */
  readonly portVar: string;
  /** Postgres URL, or undefined for embedded PGlite under `dataDir`. */
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  readonly mqttUrl: string;
  readonly mqttUsername: string;
  readonly mqttPassword: string;
  /** MQTT_PROTOCOL_VERSION: `auto` (default: MQTT 5, else 3.1.1), 4 or 5. */
  readonly mqttProtocolVersion: MqttProtocolSetting;
  /** MQTT_SUBSCRIPTION_MODE: `fanout` (default) or `shared` (MQTT 5 shared subscriptions). */
  readonly mqttSubscriptionMode: SubscriptionMode;
  /** Redis for the delivery ledger, or undefined for the in-memory ledger. */
  readonly redisUrl: string | undefined;
  /** GATEWAY_SHARED_SECRET: requests must carry the gateway's signature (required in production). */
  readonly gatewaySecret?: string | undefined;
}

/** Development MQTT password of an account in the embedded mode (the broker uses the same rule). */
export const devMqttPassword = (username: string): string => `${username}-dev-password`;

/** The prefix of a service's own variables: `booking` → `BOOKING` (`BOOKING_PORT`, `BOOKING_DATABASE_URL`). */
export const serviceEnvPrefix = (service: string): string => service.toUpperCase().replace(/[^A-Z0-9]/g, '_');

/**
 * `<SERVICE>_PORT`, `<SERVICE>_DATABASE_URL` (or `DATABASE_URL` when one process runs one service),
 * `DATA_DIR`, `MQTT_URL`, `MQTT_USERNAME`/`MQTT_PASSWORD` (or `<SERVICE>_MQTT_PASSWORD`),
 * `MQTT_PROTOCOL_VERSION`, `MQTT_SUBSCRIPTION_MODE`, `REDIS_URL`.
 */
export function serviceConfig(service: string, defaultPort: number, env: Env = process.env): ServiceConfig {
  const S = serviceEnvPrefix(service);
  const portVar = `${S}_PORT`;
  const databaseUrl =
    envUrl(`${S}_DATABASE_URL`, ['postgres:', 'postgresql:'], env) ?? envUrl('DATABASE_URL', ['postgres:', 'postgresql:'], env);
  const production = env.NODE_ENV === 'production';
  const password = envOptional(`${S}_MQTT_PASSWORD`, env) ?? envOptional('MQTT_PASSWORD', env);
  if (production && password === undefined)
    throw new ConfigError(
      `${service}: set ${S}_MQTT_PASSWORD or MQTT_PASSWORD (development passwords are refused with NODE_ENV=production)`,
    );
  if (production && databaseUrl === undefined)
    throw new ConfigError(`${service}: set ${S}_DATABASE_URL or DATABASE_URL (embedded PGlite is for development)`);
  return {
    service,
    host: envOptional('HOST', env) ?? '127.0.0.1',
    port: envPort(portVar, defaultPort, env),
    portVar,
    databaseUrl,
    dataDir: resolve(join(envOptional('DATA_DIR', env) ?? 'data', service)),
    mqttUrl: envUrl('MQTT_URL', ['mqtt:', 'mqtts:', 'ws:', 'wss:', 'tcp:'], env) ?? 'mqtt://127.0.0.1:1884',
    mqttUsername: envOptional(`${S}_MQTT_USERNAME`, env) ?? envOptional('MQTT_USERNAME', env) ?? service,
    mqttPassword: password ?? devMqttPassword(envOptional(`${S}_MQTT_USERNAME`, env) ?? envOptional('MQTT_USERNAME', env) ?? service),
    ...mqttModes(env),
    redisUrl: redisUrlFromEnv('REDIS_URL', env),
    gatewaySecret: gatewaySecretFromEnv(env),
  };
}

const PROTOCOLS: Record<string, MqttProtocolSetting> = { auto: 'auto', '4': 4, '3.1.1': 4, '5': 5 };

/** MQTT_PROTOCOL_VERSION and MQTT_SUBSCRIPTION_MODE, checked together (shared mode needs MQTT 5). */
function mqttModes(env: Env = process.env): { mqttProtocolVersion: MqttProtocolSetting; mqttSubscriptionMode: SubscriptionMode } {
  const rawVersion = envOptional('MQTT_PROTOCOL_VERSION', env) ?? 'auto';
  const mqttProtocolVersion = PROTOCOLS[rawVersion.toLowerCase()];
  if (mqttProtocolVersion === undefined)
    throw new ConfigError(`MQTT_PROTOCOL_VERSION must be auto, 4 (MQTT 3.1.1) or 5, got ${JSON.stringify(rawVersion)}`);
  const rawMode = envOptional('MQTT_SUBSCRIPTION_MODE', env) ?? 'fanout';
  const mqttSubscriptionMode = rawMode.toLowerCase();
  if (mqttSubscriptionMode !== 'fanout' && mqttSubscriptionMode !== 'shared')
    throw new ConfigError(`MQTT_SUBSCRIPTION_MODE must be fanout or shared, got ${JSON.stringify(rawMode)}`);
  if (mqttSubscriptionMode === 'shared' && mqttProtocolVersion === 4)
    throw new ConfigError(
      'MQTT_SUBSCRIPTION_MODE=shared needs MQTT 5 shared subscriptions: set MQTT_PROTOCOL_VERSION=auto or 5 (not 4), or MQTT_SUBSCRIPTION_MODE=fanout',
    );
  return { mqttProtocolVersion, mqttSubscriptionMode };
}
