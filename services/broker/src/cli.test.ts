// The operator CLI talks to the broker's admin HTTP API (issue 10.8): commands in-process against an
// embedded (memory) and a Redis-backed broker, plus the installed entry point (bin) once.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@albergue/platform/testing';
import { freePort } from '@albergue/platform/testing';
import type { RunningBroker } from './start.js';
import { ADMIN_TOKEN, asService, closeMqtt, connectMqtt, startRedisServer, startTestBroker } from './testing/harness.js';
import { BrokerError, BrokerUnreachableError, UsageError, runCommand } from './cli-commands.js';
import { BOOKING_RESERVED, BOOKING_RESERVED_MQTT, bookingReserved } from './testing/fixtures.js';

const exec = promisify(execFile);
const bin = fileURLToPath(new URL('../bin/albergue-broker.js', import.meta.url));

for (const mode of ['embedded', 'redis'] as const) {
  describe(`albergue-broker against a ${mode} broker`, () => {
    let redis: Awaited<ReturnType<typeof startRedisServer>> | undefined;
    let broker: RunningBroker;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const cli = (...args: string[]): Promise<any> =>
      runCommand(args, { env: { BROKER_URL: broker.httpUrl, BROKER_ADMIN_TOKEN: ADMIN_TOKEN } });
    before(async () => {
      if (mode === 'redis') redis = await startRedisServer();
      broker = await startTestBroker({ wsPort: null, ...(redis ? { redisUrl: redis.url } : {}) });
    });
    after(async () => {
      await broker.close();
      await redis?.stop();
    });

    test('dlq, circuits, subscriptions and retained commands', async () => {
      const reg = await fetch(`${broker.httpUrl}/api/mqtt/subscriptions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ subscriber: 'reports', topic_filter: 'albergue/booking/#' }),
      });
      assert.equal(reg.status, 201);
      const booking = await connectMqtt(broker.mqttUrl, asService('booking'));
      try {
        await booking.publishAsync(BOOKING_RESERVED_MQTT, '{"poison":true}', { qos: 1, retain: true });
        await booking.publishAsync(BOOKING_RESERVED_MQTT, JSON.stringify(bookingReserved(1)), { qos: 1 });
      } finally {
        await closeMqtt(booking);
      }
      await waitFor(async () => (await cli('dlq', 'list')).topics.length === 1, { timeoutMs: 5000, message: 'dead letter' });
      assert.deepEqual((await cli('dlq', 'list')).topics, [{ topic: BOOKING_RESERVED, depth: 1 }]);
      const shown = await cli('dlq', 'show', BOOKING_RESERVED);
      assert.equal(shown.entries[0].reason, 'invalid_envelope');
      assert.equal(
        (await cli('dlq', 'show', BOOKING_RESERVED, '--id', (shown.entries as { id: string }[])[0]!.id)).body,
        '{"poison":true}',
      );
      const dry = await cli('dlq', 'replay', BOOKING_RESERVED, '--dry-run');
      assert.deepEqual([dry.dry_run, dry.invalid], [true, 1]);
      await assert.rejects(cli('dlq', 'purge', BOOKING_RESERVED), (e: Error) => e instanceof UsageError && /--yes/.test(e.message));
      assert.deepEqual(await cli('dlq', 'purge', BOOKING_RESERVED, '--yes'), { purged: 1 });

      assert.ok(Array.isArray((await cli('circuits', 'list')).circuits));
      assert.equal((await cli('circuits', 'reset', 'reports', BOOKING_RESERVED)).status.state, 'closed');

      assert.deepEqual(
        ((await cli('subscriptions', 'list')).subscriptions as { subscriber: string }[]).map((s) => s.subscriber),
        ['reports'],
      );
      assert.equal((await cli('subscriptions', 'delete', 'reports')).deleted.length, 1);
      await assert.rejects(
        cli('subscriptions', 'delete', 'reports'),
        (e: Error) => e instanceof BrokerError && e.status === 404 && /no HTTP subscription/.test(e.message),
      );

      assert.equal((await cli('retained', 'list', 'albergue/booking/#')).messages.length, 1);
      await assert.rejects(cli('retained', 'clear', BOOKING_RESERVED), (e: Error) => e instanceof UsageError && /--yes/.test(e.message));
      assert.deepEqual((await cli('retained', 'clear', BOOKING_RESERVED, '--yes')).cleared, [
        { topic: BOOKING_RESERVED, mqtt_topic: BOOKING_RESERVED_MQTT },
      ]);
      assert.deepEqual((await cli('retained', 'list', 'albergue/#')).messages, []);

      await assert.rejects(cli('dlq', 'frobnicate'), (e: Error) => e instanceof UsageError && /unknown command/.test(e.message));
      await assert.rejects(cli('dlq', 'list', '--bogus'), UsageError);
      await assert.rejects(
        runCommand(['dlq', 'list'], { env: { BROKER_URL: broker.httpUrl, BROKER_ADMIN_TOKEN: 'wrong-token-0123456789' } }),
        (e: Error) => e instanceof BrokerError && e.status === 401 && /BROKER_ADMIN_TOKEN/.test(e.message),
      );
    });
  });
}

test('the installed entry point: JSON out; one line and a non-zero exit when no broker answers or the token is wrong', async () => {
  const broker = await startTestBroker({ wsPort: null });
  const dead = `http://127.0.0.1:${await freePort()}`;
  try {
    const ok = await exec(process.execPath, [bin, 'dlq', 'list'], {
      env: { ...process.env, BROKER_URL: broker.httpUrl, BROKER_ADMIN_TOKEN: ADMIN_TOKEN },
      timeout: 30_000,
    });
    assert.deepEqual(JSON.parse(ok.stdout), { topics: [] });
    const flags = await exec(process.execPath, [bin, '--url', broker.httpUrl, '--token', ADMIN_TOKEN, 'subscriptions', 'list'], {
      env: { ...process.env, BROKER_URL: dead },
      timeout: 30_000,
    });
    assert.deepEqual(JSON.parse(flags.stdout), { subscriptions: [] });

    for (const [env, pattern] of [
      [
        { BROKER_URL: dead, BROKER_ADMIN_TOKEN: ADMIN_TOKEN },
        /^albergue-broker: no broker answers at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\); start one or set BROKER_URL \/ --url$/,
      ],
      [
        { BROKER_URL: broker.httpUrl, BROKER_ADMIN_TOKEN: 'wrong-token-0123456789' },
        /^albergue-broker: 401 Unauthorized: .*BROKER_ADMIN_TOKEN/,
      ],
    ] as const) {
      const failed = await exec(process.execPath, [bin, 'circuits', 'list'], { env: { ...process.env, ...env }, timeout: 30_000 }).then(
        () => undefined,
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
      assert.ok(failed, 'must fail');
      assert.equal(failed.code, 1);
      assert.equal(failed.stdout, '');
      const lines = failed.stderr.trim().split('\n');
      assert.equal(lines.length, 1, failed.stderr);
      assert.match(lines[0]!, pattern);
    }
    const usage = await exec(process.execPath, [bin, 'nope'], { timeout: 30_000 }).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(usage?.code, 2);
  } finally {
    await broker.close();
  }
});

test('BrokerUnreachableError for a URL that is not the broker', async () => {
  await assert.rejects(runCommand(['dlq', 'list'], { env: { BROKER_URL: 'http://127.0.0.1:1' } }), BrokerUnreachableError);
});
