import { ConfigError, envOptional, envPort, envString, envUrl } from '@albergue/platform';
import type { ServiceDeclaration } from '@albergue/messaging';
import { OBSERVER_ACCOUNT } from '../application/acl-from-declarations';
import type { BrokerOptions } from '../start';
import { loadCredentials } from './credentials';
import { DECLARED_SERVICES } from './declared-services';

type Env = Record<string, string | undefined>;

/**
 * Broker options from the environment: BROKER_HOST (127.0.0.1), BROKER_MQTT_PORT (1884),
 * BROKER_WS_PORT (8884; "off" disables), BROKER_HTTP_PORT (8090), REDIS_URL (unset = memory),
 * BROKER_ALLOW_ANONYMOUS (true = clients without credentials get the observer's read-only rights),
 * BROKER_USERS / BROKER_PASSWORD_<USER>, BROKER_ADMIN_TOKEN.
 */
export function brokerOptionsFromEnv(env: Env = process.env, declarations: readonly ServiceDeclaration[] = DECLARED_SERVICES): BrokerOptions {
  const accounts = [...declarations.map((d) => d.service), OBSERVER_ACCOUNT];
  const creds = loadCredentials(accounts, env);
  const anon = envOptional('BROKER_ALLOW_ANONYMOUS', env);
  if (anon !== undefined && !['true', 'false'].includes(anon)) throw new ConfigError(`BROKER_ALLOW_ANONYMOUS must be true or false, got "${anon}"`);
  const ws = envOptional('BROKER_WS_PORT', env);
  const redisUrl = envUrl('REDIS_URL', ['redis:', 'rediss:'], env);
  return {
    host: envString('BROKER_HOST', '127.0.0.1', env),
    mqttPort: envPort('BROKER_MQTT_PORT', 1884, env),
    wsPort: ws === 'off' ? null : envPort('BROKER_WS_PORT', 8884, env),
    httpPort: envPort('BROKER_HTTP_PORT', 8090, env),
    ...(redisUrl !== undefined ? { redisUrl } : {}),
    declarations,
    users: creds.users,
    adminToken: creds.adminToken,
    allowAnonymous: anon === 'true',
    devCredentials: creds.devDefaults,
  };
}
