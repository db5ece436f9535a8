// The gateway's ports: the rate limiter (Redis across instances, memory in the embedded mode) and
// where RateLimitExceeded goes.

/** A token bucket: `limit` requests at once, refilled at `limit / windowS` per second. */
export interface RateLimit {
  readonly limit: number;
  readonly windowS: number;
}

export interface RateDecision {
  readonly allowed: boolean;
  readonly limit: number;
  /** Whole tokens left after this request. */
  readonly remaining: number;
  /** Seconds until the bucket is full again (RateLimit-Reset). */
  readonly resetS: number;
  /** Seconds until the next token (Retry-After when refused); 0 when allowed. */
  readonly retryAfterS: number;
  /**
   * Refused and the subject's first refusal in its window (any route): publish RateLimitExceeded
   * (at most once per key per window, across instances on Redis).
   */
  readonly notify: boolean;
}

export interface RateLimiter {
  /**
   * Takes one token from the bucket of `subject` (a client key's hash, or an IP) on `route` (a route
   * pattern). With `notify`, a refusal says whether it is the subject's first in its window.
   */
  take(subject: string, route: string, limit: RateLimit, notify: boolean): Promise<RateDecision>;
  close(): Promise<void>;
}

/** The arithmetic both adapters share (the Redis one runs the same in Lua). */
export function bucketAnswer(tokens: number, limit: RateLimit, allowed: boolean, notify: boolean): RateDecision {
  const perS = limit.limit / limit.windowS;
  return {
    allowed,
    limit: limit.limit,
    remaining: Math.max(0, Math.floor(tokens)),
    resetS: Math.max(0, Math.ceil((limit.limit - tokens) / perS)),
    retryAfterS: allowed ? 0 : Math.max(1, Math.ceil((1 - tokens) / perS)),
    notify,
  };
}
