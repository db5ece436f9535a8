import type { RateDecision, RateLimit, RateLimiter } from '../../application/ports.js';
import { bucketAnswer } from '../../application/ports.js';

/**
 * Token buckets in this process (the embedded mode, and the fallback while Redis is away). Idle
 * buckets are dropped once full again; at most `maxBuckets` are kept (the oldest go first).
 */
export class MemoryRateLimiter implements RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number; idleUntil: number }>();
  private readonly notified = new Map<string, number>();

  constructor(
    private readonly now: () => number = () => Date.now(),
    private readonly maxBuckets = 100_000,
  ) {}

  take(subject: string, route: string, limit: RateLimit, notifyRefusal: boolean): Promise<RateDecision> {
    const now = this.now();
    const bucket = `${subject} ${route}`;
    const perMs = limit.limit / (limit.windowS * 1000);
    const b = this.buckets.get(bucket);
    let tokens = b ? Math.min(limit.limit, b.tokens + (now - b.at) * perMs) : limit.limit;
    const allowed = tokens >= 1;
    if (allowed) tokens -= 1;
    this.buckets.delete(bucket); // re-inserted last: the map stays in last-use order
    this.buckets.set(bucket, { tokens, at: now, idleUntil: now + limit.windowS * 1000 });
    this.trim(now);
    let notify = false;
    if (!allowed && notifyRefusal) {
      const until = this.notified.get(subject);
      if (until === undefined || until <= now) {
        this.notified.set(subject, now + limit.windowS * 1000);
        notify = true;
      }
    }
    return Promise.resolve(bucketAnswer(tokens, limit, allowed, notify));
  }

  private trim(now: number): void {
    for (const [k, v] of this.buckets) {
      if (v.idleUntil > now && this.buckets.size <= this.maxBuckets) break;
      this.buckets.delete(k);
    }
    for (const [k, until] of this.notified) {
      if (until > now && this.notified.size <= this.maxBuckets) break;
      this.notified.delete(k);
    }
  }

  close(): Promise<void> {
    this.buckets.clear();
    return Promise.resolve();
  }
}
