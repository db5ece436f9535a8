import type { Redis } from 'ioredis';
import type { ClaimOutcome, PublishedMessageStore } from '../../application/ports.js';
import { keys } from './keys.js';

// KEYS[1] message key; ARGV: topic, body, now, staleAfterMs, ttlMs
const CLAIM = `
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  redis.call('HSET', KEYS[1], 'topic', ARGV[1], 'body', ARGV[2], 'state', 'pending', 'claimed_at', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return 'new'
end
if state == 'published' then return 'duplicate' end
local claimed = tonumber(redis.call('HGET', KEYS[1], 'claimed_at') or '0')
if tonumber(ARGV[3]) - claimed > tonumber(ARGV[4]) then
  redis.call('HSET', KEYS[1], 'claimed_at', ARGV[3])
  return 'retry'
end
return 'in-flight'`;

// KEYS[1] message key; ARGV: now
const MARK_PUBLISHED = `
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'state', 'published', 'published_at', ARGV[1]) end`;

/** `mqtt:message:<event_id>` in Redis; the claim is one atomic script, so concurrent requests agree. */
export class RedisPublishedMessageStore implements PublishedMessageStore {
  /** `now`: the clock (tests move it instead of waiting). */
  constructor(
    private readonly redis: Redis,
    private readonly retentionMs = 7 * 24 * 3600 * 1000,
    private readonly now: () => number = Date.now,
  ) {}

  async claim(eventId: string, topic: string, body: string, staleAfterMs: number): Promise<ClaimOutcome> {
    const out = await this.redis.eval(CLAIM, 1, keys.message(eventId), topic, body, this.now(), staleAfterMs, this.retentionMs);
    return out as ClaimOutcome;
  }

  // Only a claimed message: an HSET on a released (or expired) one would create a hash without a TTL.
  async markPublished(eventId: string): Promise<void> {
    await this.redis.eval(MARK_PUBLISHED, 1, keys.message(eventId), this.now());
  }

  async release(eventId: string): Promise<void> {
    await this.redis.del(keys.message(eventId));
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.redis.ping()) === 'PONG';
    } catch {
      return false;
    }
  }
}
