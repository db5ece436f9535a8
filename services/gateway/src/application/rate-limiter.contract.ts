// The contract every RateLimiter adapter passes (memory and Redis): a token bucket per subject and
// route, the headers' numbers, and a refusal reported once per subject per window.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { waitFor } from '@albergue/platform/testing';
import type { RateLimiter } from './ports.js';

export interface LimiterFixture {
  readonly limiter: RateLimiter;
  /** A second limiter on the same store (another gateway instance), or the same object for memory. */
  readonly other: RateLimiter;
}

const subject = () => randomBytes(8).toString('hex');

export function rateLimiterContract(name: string, make: () => Promise<LimiterFixture>): void {
  test(`${name}: a burst gets the limit, then refusals with Retry-After; counts are per subject and route`, async () => {
    const { limiter } = await make();
    const s = subject();
    const limit = { limit: 5, windowS: 60 };
    const answers = [];
    for (let i = 0; i < 8; i++) answers.push(await limiter.take(s, 'GET /api/x', limit, false));
    assert.deepEqual(
      answers.map((a) => a.allowed),
      [true, true, true, true, true, false, false, false],
    );
    assert.deepEqual(
      answers.slice(0, 5).map((a) => a.remaining),
      [4, 3, 2, 1, 0],
    );
    assert.equal(answers[0]!.limit, 5);
    // 5 tokens per 60 s: one token every 12 s.
    assert.ok(answers[5]!.retryAfterS >= 11 && answers[5]!.retryAfterS <= 12, `retry after ${answers[5]!.retryAfterS}`);
    assert.ok(answers[5]!.resetS >= 59 && answers[5]!.resetS <= 60, `reset ${answers[5]!.resetS}`);
    assert.equal(answers[5]!.notify, false, 'not asked to notify');
    // Another route and another subject have their own buckets.
    assert.equal((await limiter.take(s, 'POST /api/x', limit, false)).allowed, true);
    assert.equal((await limiter.take(subject(), 'GET /api/x', limit, false)).allowed, true);
  });

  test(`${name}: tokens come back with time`, async () => {
    const { limiter } = await make();
    const s = subject();
    const limit = { limit: 2, windowS: 1 }; // a token every 500 ms
    assert.equal((await limiter.take(s, 'r', limit, false)).allowed, true);
    assert.equal((await limiter.take(s, 'r', limit, false)).allowed, true);
    assert.equal((await limiter.take(s, 'r', limit, false)).allowed, false);
    await waitFor(async () => (await limiter.take(s, 'r', limit, false)).allowed, {
      timeoutMs: 3_000,
      intervalMs: 100,
      message: 'a refilled token',
    });
  });

  test(`${name}: a refusal is reported once per subject per window (any route, any instance)`, async () => {
    const { limiter, other } = await make();
    const s = subject();
    const limit = { limit: 1, windowS: 60 };
    assert.equal((await limiter.take(s, 'a', limit, true)).notify, false, 'allowed: nothing to report');
    const refusals = [
      await limiter.take(s, 'a', limit, true),
      await limiter.take(s, 'a', limit, true),
      await other.take(s, 'a', limit, true),
      await limiter.take(s, 'b', limit, true), // allowed (own bucket)
      await other.take(s, 'b', limit, true),
    ];
    assert.deepEqual(
      refusals.map((r) => [r.allowed, r.notify]),
      [
        [false, true],
        [false, false],
        [false, false],
        [true, false],
        [false, false],
      ],
    );
  });

  test(`${name}: instances sharing the store share the bucket`, async () => {
    const { limiter, other } = await make();
    const s = subject();
    const limit = { limit: 10, windowS: 3600 };
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? limiter : other).take(s, 'r', limit, false)));
    assert.equal(answers.filter((a) => a.allowed).length, 10);
  });
}
