/**
 * One Redis client from one URL: a single server (`redis://`, `rediss://`, as ioredis reads them) or
 * a Redis Cluster (`redis+cluster://[user[:password]@]host:port[,host:port…]`, `rediss+cluster://`
 * for TLS): the seed nodes, from which ioredis' cluster client learns the rest. Both clients share
 * the command API (scripts through defineCommand/EVALSHA included), so the code above them is one.
 */
import { Cluster, Redis } from 'ioredis';
import type { ClusterNode, ClusterOptions, RedisOptions } from 'ioredis';
import { ConfigError } from '@albergue/platform';

/** A single-server or a cluster client. */
export type RedisClient = Redis | Cluster;

const CLUSTER_PROTOCOLS = ['redis+cluster:', 'rediss+cluster:'];
const SINGLE_PROTOCOLS = ['redis:', 'rediss:'];

/** True when `url` names a Redis Cluster (`redis+cluster://…` or `rediss+cluster://…`). */
export function isClusterUrl(url: string): boolean {
  return CLUSTER_PROTOCOLS.some((p) => url.toLowerCase().startsWith(`${p}//`));
}

interface ClusterUrl {
  readonly nodes: ClusterNode[];
  readonly tls: boolean;
  readonly username?: string;
  readonly password?: string;
}

/** The URL with its password replaced by `***` (for error messages). */
function redact(url: string): string {
  return url.replace(/^([a-z+]+:\/\/[^:@/]*:)[^@]*@/i, '$1***@');
}

/**
 * Parses a cluster URL; a ConfigError names `variable` and says what is expected. Nodes are
 * `host:port` (port default 6379; IPv6 in brackets, `[::1]:7000`), separated by commas.
 */
export function parseClusterUrl(url: string, variable = 'REDIS_URL'): ClusterUrl {
  const expected = 'expected redis+cluster://[user:password@]host:port[,host:port…] (rediss+cluster:// for TLS)';
  const bad = (why: string) => new ConfigError(`${variable}="${redact(url)}" is not a valid Redis Cluster URL: ${why}; ${expected}`);
  const m = /^(rediss?)\+cluster:\/\/(.*)$/i.exec(url);
  if (!m) throw bad('unknown scheme');
  let rest = m[2]!.replace(/\/+(\?.*)?$/, '');
  let username: string | undefined;
  let password: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const cred = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = cred.indexOf(':');
    const user = decodeURIComponent(colon >= 0 ? cred.slice(0, colon) : cred);
    if (colon >= 0) password = decodeURIComponent(cred.slice(colon + 1));
    else if (user !== '') password = user; // redis://secret@host: a bare password, as ioredis reads it
    if (colon >= 0 && user !== '') username = user;
  }
  if (rest === '') throw bad('no nodes');
  if (rest.includes('/')) throw bad('a cluster has no database number (every node uses database 0)');
  const nodes = rest.split(',').map((spec): ClusterNode => {
    const n = /^(\[[0-9a-f:.]+\]|[^\s:[\]]+)(?::(\d{1,5}))?$/i.exec(spec.trim());
    if (!n) throw bad(`"${spec}" is not host:port`);
    const port = n[2] === undefined ? 6379 : Number(n[2]);
    if (port < 1 || port > 65_535) throw bad(`port ${port} of "${spec}" is out of range`);
    return { host: n[1]!.replace(/^\[(.*)\]$/, '$1'), port };
  });
  return { nodes, tls: m[1]!.toLowerCase() === 'rediss', ...(username ? { username } : {}), ...(password ? { password } : {}) };
}

/**
 * Checks a REDIS_URL-like variable: undefined when unset, the URL when it is a single-server URL
 * (`redis:`, `rediss:`) or a valid cluster URL; a ConfigError naming the variable otherwise.
 */
export function redisUrlFromEnv(variable = 'REDIS_URL', env: Record<string, string | undefined> = process.env): string | undefined {
  const raw = env[variable];
  if (raw === undefined || raw === '') return undefined;
  if (isClusterUrl(raw)) {
    parseClusterUrl(raw, variable);
    return raw;
  }
  let protocol: string;
  try {
    protocol = new URL(raw).protocol;
  } catch {
    throw new ConfigError(
      `${variable}="${redact(raw)}" is not a URL (expected redis://host:port, or redis+cluster://host:port,host:port for a cluster)`,
    );
  }
  if (!SINGLE_PROTOCOLS.includes(protocol))
    throw new ConfigError(`${variable} must use ${[...SINGLE_PROTOCOLS, ...CLUSTER_PROTOCOLS].join(' or ')}, got ${protocol}`);
  return raw;
}

/**
 * A client for `url`: `new Redis(url, options)` for one server, `new Cluster(nodes, …)` with
 * `options` as every node's options for a cluster URL.
 */
export function createRedisClient(url: string, options: RedisOptions = {}, variable = 'REDIS_URL'): RedisClient {
  if (!isClusterUrl(url)) return new Redis(url, options);
  const c = parseClusterUrl(url, variable);
  const clusterOptions: ClusterOptions = {
    redisOptions: {
      ...options,
      ...(c.username ? { username: c.username } : {}),
      ...(c.password ? { password: c.password } : {}),
      ...(c.tls ? { tls: {} } : {}),
    },
    // Options that ioredis' Cluster takes at its own level, not per node.
    ...(options.lazyConnect !== undefined ? { lazyConnect: options.lazyConnect } : {}),
    ...(options.enableOfflineQueue !== undefined ? { enableOfflineQueue: options.enableOfflineQueue } : {}),
    ...(options.retryStrategy !== undefined ? { clusterRetryStrategy: options.retryStrategy } : {}),
  };
  return new Cluster(c.nodes, clusterOptions);
}
