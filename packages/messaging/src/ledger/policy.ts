import type { BackoffPolicy, SubscriptionPolicy } from '../ports/ledger.js';
import { redeliveryHorizonMs } from '../ports/ledger.js';

/** Thrown by `register` for a policy that cannot be honoured. */
export class PolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyError';
  }
}

const positiveInt = (v: number): boolean => Number.isInteger(v) && v > 0;
const nonNegative = (v: number): boolean => Number.isFinite(v) && v >= 0;

/**
 * Checks a subscription policy; throws a PolicyError naming the subscriber, topic and field.
 * The dedup window must cover the redelivery horizon, or a message redelivered late could be
 * processed twice.
 */
export function validatePolicy(subscriber: string, topic: string, p: SubscriptionPolicy): void {
  const where = `subscription ${subscriber} on ${topic}`;
  const problems: string[] = [];
  if (!positiveInt(p.maxAttempts)) problems.push(`maxAttempts must be a positive integer (got ${p.maxAttempts})`);
  if (!positiveInt(p.visibilityTimeoutMs)) problems.push(`visibilityTimeoutMs must be a positive integer (got ${p.visibilityTimeoutMs})`);
  if (!nonNegative(p.backoff.initialMs)) problems.push(`backoff.initialMs must be ≥ 0 (got ${p.backoff.initialMs})`);
  if (!nonNegative(p.backoff.maxMs) || p.backoff.maxMs < p.backoff.initialMs)
    problems.push(`backoff.maxMs must be ≥ backoff.initialMs (got ${p.backoff.maxMs})`);
  if (!(Number.isFinite(p.backoff.multiplier) && p.backoff.multiplier >= 1))
    problems.push(`backoff.multiplier must be ≥ 1 (got ${p.backoff.multiplier})`);
  if (!(Number.isFinite(p.backoff.jitter) && p.backoff.jitter >= 0 && p.backoff.jitter <= 1))
    problems.push(`backoff.jitter must be within 0..1 (got ${p.backoff.jitter})`);
  if (!positiveInt(p.breaker.failureThreshold))
    problems.push(`breaker.failureThreshold must be a positive integer (got ${p.breaker.failureThreshold})`);
  if (!positiveInt(p.breaker.windowMs)) problems.push(`breaker.windowMs must be a positive integer (got ${p.breaker.windowMs})`);
  if (!positiveInt(p.breaker.openMs)) problems.push(`breaker.openMs must be a positive integer (got ${p.breaker.openMs})`);
  if (!positiveInt(p.dedupWindowMs)) problems.push(`dedupWindowMs must be a positive integer (got ${p.dedupWindowMs})`);
  if (problems.length > 0) throw new PolicyError(`${where}: ${problems.join('; ')}`);
  const horizon = redeliveryHorizonMs(p);
  if (p.dedupWindowMs < horizon) {
    throw new PolicyError(
      `${where}: dedupWindowMs ${p.dedupWindowMs} ms is shorter than the redelivery horizon ` +
        `(maxAttempts × backoff.maxMs + visibilityTimeoutMs = ${p.maxAttempts} × ${p.backoff.maxMs} + ${p.visibilityTimeoutMs} = ${horizon} ms); ` +
        `a late redelivery could be processed twice. Set dedupWindowMs to at least ${horizon}.`,
    );
  }
}

/**
 * Delay before attempt `failedAttempt + 1`: initialMs · multiplier^(failedAttempt−1), capped at
 * maxMs, then drawn from [d·(1−jitter), d] with `random` in [0, 1).
 */
export function backoffDelayMs(b: BackoffPolicy, failedAttempt: number, random: number): number {
  const exp = Math.max(0, failedAttempt - 1);
  const d = Math.min(b.maxMs, b.initialMs * Math.pow(b.multiplier, exp));
  return Math.floor(d * (1 - b.jitter * random));
}

/** `policy` with the defaults filled in for anything left out. */
export function mergePolicy(base: SubscriptionPolicy, over: Partial<SubscriptionPolicy> = {}): SubscriptionPolicy {
  return {
    ...base,
    ...over,
    backoff: { ...base.backoff, ...over.backoff },
    breaker: { ...base.breaker, ...over.breaker },
  };
}

/** An ISO-8601 UTC time of epoch milliseconds. */
export const iso = (ms: number): string => new Date(ms).toISOString();

const KEY_PART = /^[^\s:]+$/;
/** A subscriber is also the Redis Cluster hash tag `{<subscriber>}` of its keys: no braces either. */
const SUBSCRIBER_PART = /^[^\s:{}]+$/;
/**
 * Subscriber and topic names are parts of Redis keys: non-empty, no ':' and no whitespace; a
 * subscriber has no '{' or '}' (it is the hash tag of its keys).
 */
export function assertKeyPart(what: 'subscriber' | 'topic', value: string): void {
  if (what === 'subscriber' && !SUBSCRIBER_PART.test(value))
    throw new Error(`invalid subscriber ${JSON.stringify(value)}: must be non-empty, without ':', '{', '}' or whitespace`);
  if (!KEY_PART.test(value)) throw new Error(`invalid ${what} ${JSON.stringify(value)}: must be non-empty, without ':' or whitespace`);
}
