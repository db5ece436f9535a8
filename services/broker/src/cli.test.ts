// The operator CLI against a private redis-server: commands in-process, plus the real entry point once.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { DEFAULT_POLICY, RedisDeliveryLedger } from '@albergue/messaging';
import { startRedisServer } from './testing/harness';
import { UsageError, runCommand } from './cli-commands';
import { BOOKING_RESERVED, bookingReserved } from './testing/fixtures';

const exec = promisify(execFile);
const cli = fileURLToPath(new URL('./cli.ts', import.meta.url));
let redis: Awaited<ReturnType<typeof startRedisServer>>;
let ledger: RedisDeliveryLedger;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function albergue(...args: string[]): Promise<{ code: number; out: any; err: string }> {
  try {
    return { code: 0, out: await runCommand(args, { url: redis.url }), err: '' };
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) return { code: 2, out: undefined, err: (e as Error).message };
    throw e;
  }
}

before(async () => {
  redis = await startRedisServer();
  ledger = new RedisDeliveryLedger({ url: redis.url });
});
after(async () => {
  await ledger.close();
  await redis.stop();
});

test('dlq list/show/replay/purge and circuits list/reset over Redis', async () => {
  const env = bookingReserved(1);
  const now = new Date().toISOString();
  await ledger.register('reports', BOOKING_RESERVED, DEFAULT_POLICY);
  await ledger.deadLetters.add({ id: env.event_id, topic: BOOKING_RESERVED, subscriber: 'reports', body: JSON.stringify(env), reason: 'max_attempts', attempts: 5, errors: [{ attempt: 5, at: now, message: 'boom' }], firstFailureAt: now, lastFailureAt: now, deadLetteredAt: now });
  await ledger.deadLetters.add({ id: 'junk-1', topic: BOOKING_RESERVED, subscriber: 'reports', body: 'not json', reason: 'invalid_envelope', attempts: 0, errors: [], firstFailureAt: now, lastFailureAt: now, deadLetteredAt: now });

  assert.deepEqual((await albergue('dlq', 'list')).out, { topics: [{ topic: BOOKING_RESERVED, depth: 2 }] });
  const shown = await albergue('dlq', 'show', BOOKING_RESERVED);
  assert.equal(shown.out.entries.length, 2);
  assert.equal((await albergue('dlq', 'show', BOOKING_RESERVED, '--id', env.event_id)).out.errors[0].message, 'boom');

  const dry = await albergue('dlq', 'replay', BOOKING_RESERVED, '--dry-run');
  assert.deepEqual([dry.out.dryRun, dry.out.replayed, dry.out.invalid], [true, 1, 1]);
  assert.equal((await ledger.deadLetters.topics())[0]?.depth, 2);
  const real = await albergue('dlq', 'replay', BOOKING_RESERVED);
  assert.deepEqual([real.out.replayed, real.out.invalid], [1, 1]);
  assert.deepEqual(await ledger.depth('reports'), { [BOOKING_RESERVED]: 1 });

  const refused = await albergue('dlq', 'purge', BOOKING_RESERVED);
  assert.equal(refused.code, 2);
  assert.match(refused.err, /--yes/);
  assert.deepEqual((await albergue('dlq', 'purge', BOOKING_RESERVED, '--yes')).out, { purged: 1 });
  assert.deepEqual((await albergue('dlq', 'list')).out, { topics: [] });

  const circuits = (await albergue('circuits', 'list')).out.circuits as { subscriber: string; topic: string; state: string }[];
  assert.deepEqual(circuits.map((c) => [c.subscriber, c.topic, c.state]), [['reports', BOOKING_RESERVED, 'closed']]);
  assert.equal((await albergue('circuits', 'reset', 'reports', BOOKING_RESERVED)).out.status.state, 'closed');

  const bad = await albergue('dlq', 'frobnicate');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /unknown command/);
});

test('the entry point prints the result as JSON', async () => {
  const run = (...args: string[]) => exec(process.execPath, ['--import', 'tsx', cli, ...args], { env: { ...process.env, REDIS_URL: redis.url }, timeout: 20_000 });
  const { stdout } = await run('dlq', 'list');
  assert.deepEqual(JSON.parse(stdout), { topics: [] });
});
