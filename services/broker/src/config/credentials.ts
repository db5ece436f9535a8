import { ConfigError } from '@albergue/platform';

type Env = Record<string, string | undefined>;

/** The development password of an account in the embedded default: `<username>-dev-password`. */
export const devPassword = (username: string): string => `${username}-dev-password`;
/** The development admin token of the embedded default. */
export const DEV_ADMIN_TOKEN = 'albergue-dev-admin-token';

/** Shortest password or token accepted with NODE_ENV=production (and shortest admin token anywhere). */
const MIN_SECRET_LENGTH = 16;

/** `BROKER_PASSWORD_<USERNAME>`: upper case, `-` and `.` as `_`. */
export const passwordVar = (username: string): string => `BROKER_PASSWORD_${username.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;

export interface LoadedCredentials {
  readonly users: Map<string, string>;
  /** Accounts still on their development password (logged as a warning). */
  readonly devDefaults: string[];
  readonly adminToken: string;
  readonly adminTokenIsDev: boolean;
}

/**
 * MQTT passwords for `accounts`: `BROKER_USERS` (JSON `{"booking":"secret",...}`), then
 * `BROKER_PASSWORD_<USERNAME>`, else the development default. With NODE_ENV=production a
 * development default is a ConfigError naming the variable to set. The admin token comes from
 * BROKER_ADMIN_TOKEN the same way.
 */
export function loadCredentials(accounts: readonly string[], env: Env = process.env): LoadedCredentials {
  let fromJson: Record<string, unknown> = {};
  const raw = env.BROKER_USERS;
  if (raw !== undefined && raw !== '') {
    try {
      const parsed: unknown = JSON.parse(raw);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      fromJson = parsed as Record<string, unknown>;
    } catch (err) {
      throw new ConfigError(`BROKER_USERS must be a JSON object {"username":"password",...}: ${(err as Error).message}`);
    }
  }
  const production = env.NODE_ENV === 'production';
  const users = new Map<string, string>();
  const devDefaults: string[] = [];
  for (const account of accounts) {
    const j = fromJson[account];
    if (j !== undefined && (typeof j !== 'string' || j === '')) throw new ConfigError(`BROKER_USERS.${account} must be a non-empty string`);
    const password = j ?? (env[passwordVar(account)] || undefined);
    const source = j !== undefined ? `BROKER_USERS.${account}` : passwordVar(account);
    if (password !== undefined && production) {
      if (password === devPassword(account))
        throw new ConfigError(
          `${source} is the development password of "${account}", which is refused with NODE_ENV=production: set ${passwordVar(account)} (or BROKER_USERS) to a secret of at least ${MIN_SECRET_LENGTH} characters`,
        );
      if ([...password].length < MIN_SECRET_LENGTH)
        throw new ConfigError(
          `${source} is shorter than ${MIN_SECRET_LENGTH} characters, which is refused with NODE_ENV=production: set ${passwordVar(account)} (or BROKER_USERS) to a longer secret`,
        );
    }
    if (password !== undefined) {
      users.set(account, password);
      continue;
    }
    if (production)
      throw new ConfigError(
        `no password for MQTT account "${account}": set ${passwordVar(account)} or BROKER_USERS (development defaults are refused with NODE_ENV=production)`,
      );
    users.set(account, devPassword(account));
    devDefaults.push(account);
  }
  for (const name of Object.keys(fromJson)) {
    if (!accounts.includes(name))
      throw new ConfigError(
        `BROKER_USERS has a password for "${name}", which is not a declared service or the observer (known: ${accounts.join(', ')})`,
      );
  }
  const token = env.BROKER_ADMIN_TOKEN;
  if (token !== undefined && token !== '') {
    if ([...token].length < MIN_SECRET_LENGTH) throw new ConfigError(`BROKER_ADMIN_TOKEN must be at least ${MIN_SECRET_LENGTH} characters`);
    if (/\s/.test(token))
      throw new ConfigError('BROKER_ADMIN_TOKEN must not contain whitespace (it travels as Authorization: Bearer <token>)');
    if (production && token === DEV_ADMIN_TOKEN)
      throw new ConfigError(
        'BROKER_ADMIN_TOKEN is the documented development token, which is refused with NODE_ENV=production: set BROKER_ADMIN_TOKEN to a secret of your own',
      );
    return { users, devDefaults, adminToken: token, adminTokenIsDev: false };
  }
  if (production)
    throw new ConfigError(`BROKER_ADMIN_TOKEN is required with NODE_ENV=production (a secret of at least ${MIN_SECRET_LENGTH} characters)`);
  return { users, devDefaults, adminToken: DEV_ADMIN_TOKEN, adminTokenIsDev: true };
}
