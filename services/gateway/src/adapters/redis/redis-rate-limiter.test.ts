import { strict as assert } from 'node:assert';
import { after, test } from 'node:test';
import { deleteNamespace, startRedisServer } from '@albergue/messaging/testing';
import { uniqueName, waitFor } from '@albergue/platform/testing';
import { rateLimiterContract } from '../../application/rate-limiter.contract.js';
import { RedisRateLimiter } from './redis-rate-limiter.js';

const REDIS = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `${uniqueName('gateway_rl')}:`;
const opened: RedisRateLimiter[] = [];
const open = (url = REDIS, p = prefix) => {
  const l = new RedisRateLimiter({ url, prefix: p });
  opened.push(l);
  return l;
};

after(async () => {
  for (const l of opened) await l.close();
  await deleteNamespace(REDIS, prefix); // what this file put in the shared Redis, under its own prefix
});

rateLimiterContract('redis', async () => {
  const limiter = open();
  const other = open();
  await waitFor(() => limiter.redis.status === 'ready' && other.redis.status === 'ready', { message: 'redis ready' });
  return { limiter, other };
});

test('redis: the buckets expire with their window (no key is left for ever)', async () => {
  const l = open();
  await waitFor(() => l.redis.status === 'ready');
  await l.take('ttl-subject', 'r', { limit: 3, windowS: 7 }, true);
  const ttl = await l.redis.pttl(`${prefix}rl:{ttl-subject}:r`);
  assert.ok(ttl > 0 && ttl <= 7_000, `ttl ${ttl}`);
});

test('redis away: fails open to per-instance buckets (still limited), says so, and shares again once Redis is back', async () => {
  // A redis-server of this test's own: it is killed and started again.
  const server = await startRedisServer();
  const l = open(server.url, 'gw:');
  try {
    await waitFor(() => l.redis.status === 'ready', { message: 'limiter connected' });
    const limit = { limit: 3, windowS: 3600 };
    assert.equal((await l.take('s', 'r', limit, false)).allowed, true);
    assert.equal(l.degraded(), undefined);
    await server.kill('SIGKILL');
    await waitFor(() => l.redis.status !== 'ready', { message: 'the limiter to see Redis gone' });
    // Answers come at once (no waiting for Redis), and the per-instance bucket still limits.
    const started = Date.now();
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await l.take('s', 'r', limit, false));
    assert.ok(Date.now() - started < 1_000, 'no request waits for Redis');
    assert.deepEqual(
      answers.map((a) => a.allowed),
      [true, true, true, false, false],
    );
    assert.match(l.degraded() ?? '', /./);
    await server.restart();
    await waitFor(() => l.redis.status === 'ready', { timeoutMs: 15_000, message: 'the limiter to reconnect' });
    // Back on Redis: a fresh (empty) server has a full bucket again, shared by every instance.
    assert.equal((await l.take('s', 'r', limit, false)).allowed, true);
    assert.equal(l.degraded(), undefined);
  } finally {
    await server.stop();
  }
});
