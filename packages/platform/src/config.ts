/** Configuration from the environment; every mistake is an error that names the variable to fix. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

export function envString(name: string, fallback?: string, env: Env = process.env): string {
  const v = env[name];
  if (v !== undefined && v !== '') return v;
  if (fallback !== undefined) return fallback;
  throw new ConfigError(`${name} is required but not set`);
}

export function envOptional(name: string, env: Env = process.env): string | undefined {
  const v = env[name];
  return v === undefined || v === '' ? undefined : v;
}

export function envInt(name: string, fallback: number, opts: { min?: number; max?: number } = {}, env: Env = process.env): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n)) throw new ConfigError(`${name}="${raw}" is not an integer`);
  if (opts.min !== undefined && n < opts.min) throw new ConfigError(`${name}=${n} is below the minimum ${opts.min}`);
  if (opts.max !== undefined && n > opts.max) throw new ConfigError(`${name}=${n} is above the maximum ${opts.max}`);
  return n;
}

export function envPort(name: string, fallback: number, env: Env = process.env): number {
  return envInt(name, fallback, { min: 0, max: 65535 }, env);
}

export function envUrl(name: string, protocols: readonly string[], env: Env = process.env): string | undefined {
  const raw = envOptional(name, env);
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${name}="${raw}" is not a URL (expected e.g. ${protocols[0]}//127.0.0.1)`);
  }
  if (!protocols.includes(url.protocol)) throw new ConfigError(`${name} must use ${protocols.join(' or ')}, got ${url.protocol}`);
  return raw;
}
