import { ConfigError, envInt, envOptional, envPort, envString, envUrl } from '@albergue/platform';
import type { ServiceDeclaration } from '@albergue/messaging';
import { redisUrlFromEnv } from '@albergue/messaging';
import { OBSERVER_ACCOUNT } from '../application/acl-from-declarations.js';
import type { BrokerOptions } from '../start.js';
import { DEFAULT_MAX_PACKET_SIZE, requireDeclarations } from '../start.js';
import { loadCredentials } from './credentials.js';

type Env = Record<string, string | undefined>;

/**
 * Broker options for the services of `declarations` (one MQTT account each, plus the observer; the
 * composition root passes the services it runs) from the environment: BROKER_HOST (127.0.0.1), BROKER_MQTT_PORT (1884),
 * BROKER_WS_PORT (8884; "off" disables), BROKER_HTTP_PORT (8090), REDIS_URL (unset = memory),
 * LEDGER_REDIS_URL (the delivery ledger's Redis when not REDIS_URL, e.g. a redis+cluster:// URL),
 * BROKER_ALLOW_ANONYMOUS (true = clients without credentials get the observer's read-only rights),
 * BROKER_ALLOW_ANONYMOUS_IN_PRODUCTION (the second opt-in NODE_ENV=production needs for it),
 * BROKER_USERS / BROKER_PASSWORD_<USER>, BROKER_ADMIN_TOKEN, BROKER_MAX_PACKET_SIZE (bytes).
 */
export function brokerOptionsFromEnv(declarations: readonly ServiceDeclaration[], env: Env = process.env): BrokerOptions {
  const accounts = [...requireDeclarations(declarations).map((d) => d.service), OBSERVER_ACCOUNT];
  const creds = loadCredentials(accounts, env);
  const anon = envOptional('BROKER_ALLOW_ANONYMOUS', env);
  if (anon !== undefined && !['true', 'false'].includes(anon))
    throw new ConfigError(`BROKER_ALLOW_ANONYMOUS must be true or false, got "${anon}"`);
  const anonInProduction = envOptional('BROKER_ALLOW_ANONYMOUS_IN_PRODUCTION', env);
  if (anonInProduction !== undefined && !['true', 'false'].includes(anonInProduction))
    throw new ConfigError(`BROKER_ALLOW_ANONYMOUS_IN_PRODUCTION must be true or false, got "${anonInProduction}"`);
  // Anonymous readers in production need a second, production-specific opt-in: a development
  // .env copied to production must not open the event stream.
  if (anon === 'true' && env.NODE_ENV === 'production' && anonInProduction !== 'true') {
    throw new ConfigError(
      'BROKER_ALLOW_ANONYMOUS=true is refused with NODE_ENV=production: unset it, or also set BROKER_ALLOW_ANONYMOUS_IN_PRODUCTION=true to accept anonymous read access to every event (warned at every start)',
    );
  }
  const ws = envOptional('BROKER_WS_PORT', env);
  // The broker's own state (Aedes persistence, pub/sub) needs one Redis; only the ledger may be a cluster.
  const redisUrl = envUrl('REDIS_URL', ['redis:', 'rediss:'], env);
  const ledgerRedisUrl = redisUrlFromEnv('LEDGER_REDIS_URL', env);
  return {
    host: envString('BROKER_HOST', '127.0.0.1', env),
    mqttPort: envPort('BROKER_MQTT_PORT', 1884, env),
    wsPort: ws === 'off' ? null : envPort('BROKER_WS_PORT', 8884, env),
    httpPort: envPort('BROKER_HTTP_PORT', 8090, env),
    // MQTT's own ceiling is 268,435,455 bytes; below 1 KiB not even an envelope's headers fit.
    maxPacketSize: envInt('BROKER_MAX_PACKET_SIZE', DEFAULT_MAX_PACKET_SIZE, { min: 1024, max: 268_435_455 }, env),
    ...(redisUrl !== undefined ? { redisUrl } : {}),
    ...(ledgerRedisUrl !== undefined ? { ledgerRedisUrl } : {}),
    declarations,
    users: creds.users,
    adminToken: creds.adminToken,
    allowAnonymous: anon === 'true',
    devCredentials: creds.devDefaults,
  };
}
