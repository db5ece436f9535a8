import { createRedisClient } from '@albergue/messaging';
import type { RedisClient } from '@albergue/messaging';
import type { Logger } from '@albergue/platform';
import type { RateDecision, RateLimit, RateLimiter } from '../../application/ports.js';
import { bucketAnswer } from '../../application/ports.js';
import { MemoryRateLimiter } from '../memory/memory-rate-limiter.js';

/**
 * One script per request, on the server's clock (no skew between gateway instances): refill the
 * bucket for the time since its last use, take a token if there is one, and on a refusal claim the
 * subject's "reported" flag for the window (SET NX PX) so RateLimitExceeded goes out once.
 * KEYS: bucket hash, reported flag (same hash tag: one slot on Redis Cluster).
 * ARGV: limit, window ms, notify (0/1). Returns { allowed, tokens (string), notify }.
 */
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1])
local at = tonumber(b[2])
if tokens == nil or at == nil then
  tokens = limit
else
  local elapsed = now - at
  if elapsed < 0 then elapsed = 0 end
  tokens = math.min(limit, tokens + elapsed * limit / window)
end
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], window)
local notify = 0
if allowed == 0 and ARGV[3] == '1' then
  if redis.call('SET', KEYS[2], now, 'NX', 'PX', window) then notify = 1 end
end
return { allowed, string.format('%.6f', tokens), notify }
`;

export interface RedisRateLimiterOptions {
  /** `redis://…`, or `redis+cluster://host:port,host:port` for a Redis Cluster (both keys of a call share one slot). */
  readonly url: string;
  /** Key prefix (default `gw:`): keys are `<prefix>rl:{<subject>}:<route>` and `<prefix>rlx:{<subject>}`. */
  readonly prefix?: string;
  /** A command not answered within this time counts as Redis being away (default 250 ms). */
  readonly commandTimeoutMs?: number;
  readonly logger?: Logger;
  /** Decides while Redis is away (default: a MemoryRateLimiter of this instance). */
  readonly fallback?: RateLimiter;
}

type TakeReply = [number, string, number];

/**
 * Token buckets in Redis, shared by every gateway instance. While Redis is away (refused, timed
 * out) it fails open to per-instance buckets in memory: the limit still holds per instance (so N
 * instances allow up to N × the limit), keys are still checked, and the outage is logged once and
 * reported by `degraded()` (the gateway's /health says so, without failing).
 */
export class RedisRateLimiter implements RateLimiter {
  readonly redis: RedisClient;
  private readonly prefix: string;
  private readonly fallback: RateLimiter;
  private away: string | undefined;

  constructor(private readonly o: RedisRateLimiterOptions) {
    this.prefix = o.prefix ?? 'gw:';
    this.fallback = o.fallback ?? new MemoryRateLimiter();
    // No offline queue and no retries per request: a request must not wait for Redis to come back.
    this.redis = createRedisClient(o.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: o.commandTimeoutMs ?? 250,
      retryStrategy: (times) => Math.min(times * 200, 2_000),
      lazyConnect: false,
    });
    this.redis.on('error', (err: Error) => this.down(err.message));
    this.redis.on('ready', () => {
      if (this.away !== undefined) o.logger?.info({ after: this.away }, 'rate limiter: Redis is back; buckets are shared again');
      this.away = undefined;
    });
    this.redis.defineCommand('albergueGatewayTake', { numberOfKeys: 2, lua: TAKE });
  }

  /** The reason Redis is not used right now, or undefined. */
  degraded(): string | undefined {
    return this.away;
  }

  private down(reason: string): void {
    if (this.away === undefined)
      this.o.logger?.warn({ reason }, 'rate limiter: Redis is away; limiting per instance in memory until it is back (fail open)');
    this.away = reason;
  }

  async take(subject: string, route: string, limit: RateLimit, notify: boolean): Promise<RateDecision> {
    if (this.redis.status !== 'ready') {
      this.down(`redis ${this.redis.status}`);
      return this.fallback.take(subject, route, limit, notify);
    }
    try {
      const keys = [`${this.prefix}rl:{${subject}}:${route}`, `${this.prefix}rlx:{${subject}}`];
      const cmd = (this.redis as unknown as Record<string, (...a: unknown[]) => Promise<TakeReply>>).albergueGatewayTake!;
      const [allowed, tokens, notified] = await cmd.call(this.redis, ...keys, limit.limit, limit.windowS * 1000, notify ? '1' : '0');
      return bucketAnswer(Number(tokens), limit, allowed === 1, notified === 1);
    } catch (err) {
      this.down((err as Error).message);
      return this.fallback.take(subject, route, limit, notify);
    }
  }

  async close(): Promise<void> {
    await this.fallback.close();
    try {
      await this.redis.quit();
    } catch {
      // Already closed or Redis away: drop the connection instead of waiting for it.
      this.redis.disconnect();
    }
  }
}
