// HTTP consumers over the delivery ledger, DLQ and breakers endpoints: memory ledger and Redis ledger.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { deadLetterId } from '@albergue/messaging';
import { waitFor } from '@albergue/platform/testing';
import type { RunningBroker } from '../../start.js';
import { ADMIN_TOKEN, asService, closeMqtt, connectMqtt, startRedisServer, startTestBroker } from '../../testing/harness.js';
import { BOOKING_RESERVED, BOOKING_RESERVED_MQTT, bookingReserved } from '../../testing/fixtures.js';

interface Pulled {
  event_id: string;
  topic: string;
  attempt: number;
  max_attempts: number;
  receipt: string;
  envelope: { event_id: string };
}

for (const mode of ['memory', 'redis'] as const) {
  describe(`HTTP consumers (${mode} ledger)`, () => {
    let redis: Awaited<ReturnType<typeof startRedisServer>> | undefined;
    let broker: RunningBroker;
    let booking: MqttClient;

    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => {
      const res = await fetch(`${broker.httpUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, body: await res.json() };
    };
    const pull = async (max = 10): Promise<Pulled[]> => {
      const res = await call('POST', '/api/mqtt/pull', { subscriber: 'reports', max });
      assert.equal(res.status, 200);
      return res.body.messages as Pulled[];
    };

    before(async () => {
      if (mode === 'redis') redis = await startRedisServer();
      broker = await startTestBroker({ wsPort: null, ...(redis ? { redisUrl: redis.url } : {}) });
      booking = await connectMqtt(broker.mqttUrl, asService('booking'));
    });
    after(async () => {
      await closeMqtt(booking);
      await broker.close();
      await redis?.stop();
    });

    test('register, pull, ack, nack, visibility-timeout redelivery, DLQ, replay (dry run and real), purge, breakers', async () => {
      const reg = await call('POST', '/api/mqtt/subscriptions', {
        subscriber: 'reports',
        topic_filter: 'albergue/booking/#',
        max_attempts: 2,
        visibility_timeout_ms: 300,
        retry_delay_ms: 0,
        max_retry_delay_ms: 0,
      });
      assert.equal(reg.status, 201, JSON.stringify(reg.body));
      assert.deepEqual(reg.body.topics, [
        'albergue.booking.v1.BookingCancelled',
        'albergue.booking.v1.BookingConfirmed',
        BOOKING_RESERVED,
        'albergue.booking.v1.ReservationExpired',
      ]);
      assert.deepEqual(await pull(), []);

      const a = bookingReserved(101);
      const b = bookingReserved(102);
      await booking.publishAsync(BOOKING_RESERVED_MQTT, JSON.stringify(a), { qos: 1 });
      await booking.publishAsync(BOOKING_RESERVED_MQTT, JSON.stringify(b), { qos: 1 });
      await booking.publishAsync(BOOKING_RESERVED_MQTT, JSON.stringify(a), { qos: 1 }); // same event_id: one ledger entry

      const leased: Pulled[] = [];
      await waitFor(async () => (leased.push(...(await pull())), leased.length >= 2), { timeoutMs: 5000, message: 'two leased messages' });
      assert.deepEqual(
        leased.map((m) => [m.event_id, m.attempt, m.max_attempts, m.topic]).sort(),
        [
          [a.event_id, 1, 2, BOOKING_RESERVED],
          [b.event_id, 1, 2, BOOKING_RESERVED],
        ].sort(),
      );
      const la = leased.find((m) => m.event_id === a.event_id)!;
      assert.equal(la.envelope.event_id, a.event_id);

      assert.deepEqual((await call('POST', '/api/mqtt/ack', { receipt: la.receipt })).body, { status: 'acked', event_id: a.event_id });
      assert.equal((await call('POST', '/api/mqtt/ack', { receipt: la.receipt })).status, 409);
      const tampered = la.receipt.replace(/^./, (c) => (c === 'e' ? 'f' : 'e'));
      assert.equal((await call('POST', '/api/mqtt/ack', { receipt: tampered })).status, 400);

      // b is not acked: after the visibility timeout it comes back as attempt 2.
      const again = await waitFor(async () => (await pull()).find((m) => m.event_id === b.event_id), {
        timeoutMs: 5000,
        message: 'redelivery after the visibility timeout',
      });
      assert.equal(again.attempt, 2);
      assert.deepEqual((await call('POST', '/api/mqtt/nack', { receipt: again.receipt, error: 'report store down' })).body, {
        status: 'dead-lettered',
        event_id: b.event_id,
      });
      assert.deepEqual(await pull(), []);

      assert.deepEqual((await call('GET', '/api/mqtt/dlq')).body.topics, [{ topic: BOOKING_RESERVED, depth: 1 }]);
      const page = (await call('GET', `/api/mqtt/dlq/${BOOKING_RESERVED}`)).body;
      assert.equal(page.entries.length, 1);
      assert.equal(page.entries[0].subscriber, 'reports');
      assert.equal(page.entries[0].attempts, 2);
      const errors = (page.entries[0].errors as { message: string }[]).map((e) => e.message);
      assert.equal(errors.length, 2);
      assert.match(errors[0]!, /^visibility timeout expired/);
      assert.equal(errors[1], 'report store down');
      assert.equal((await call('GET', `/api/mqtt/dlq/${BOOKING_RESERVED}/${page.entries[0].id}`)).body.id, page.entries[0].id);
      assert.equal((await call('GET', `/api/mqtt/dlq/${BOOKING_RESERVED}/nope`)).status, 404);

      const dry = await call('POST', `/api/mqtt/dlq/${BOOKING_RESERVED}/replay`, { dry_run: true });
      assert.equal(dry.status, 200);
      assert.equal(dry.body.dry_run, true);
      assert.equal(dry.body.replayed, 1);
      assert.deepEqual((await call('GET', '/api/mqtt/dlq')).body.topics, [{ topic: BOOKING_RESERVED, depth: 1 }]);
      assert.deepEqual(await pull(), []);

      const real = await call('POST', `/api/mqtt/dlq/${BOOKING_RESERVED}/replay`, {});
      assert.equal(real.body.replayed, 1);
      assert.deepEqual((await call('GET', '/api/mqtt/dlq')).body.topics, []);
      const replayed = await pull();
      assert.deepEqual(
        replayed.map((m) => [m.event_id, m.attempt]),
        [[b.event_id, 1]],
      );
      assert.equal((await call('POST', '/api/mqtt/ack', { receipt: replayed[0]!.receipt })).body.status, 'acked');

      // A message that is not a valid envelope goes straight to the DLQ; replay leaves it; purge removes it.
      await booking.publishAsync('albergue/booking/v1/BookingConfirmed', '{"not":"an envelope"}', { qos: 1 });
      const invalidTopic = 'albergue.booking.v1.BookingConfirmed';
      await waitFor(
        async () => ((await call('GET', '/api/mqtt/dlq')).body.topics as { topic: string }[]).some((t) => t.topic === invalidTopic),
        { timeoutMs: 5000, message: 'invalid envelope in the DLQ' },
      );
      const invalidEntry = (await call('GET', `/api/mqtt/dlq/${invalidTopic}`)).body.entries[0];
      assert.equal(invalidEntry.reason, 'invalid_envelope');
      assert.equal(invalidEntry.body, '{"not":"an envelope"}');
      // Same id as the MQTT subscriber gives the same bytes: derived, not random.
      assert.equal(invalidEntry.id, deadLetterId('reports', '{"not":"an envelope"}'));
      // dlq_total counts every dead letter, whatever made it: the nack above and the invalid envelope.
      const metrics = await (await fetch(`${broker.httpUrl}/metrics`)).text();
      assert.match(metrics, new RegExp(`dlq_total\\{[^}]*subscriber="reports",topic="${BOOKING_RESERVED}"[^}]*\\} 1\\b`));
      assert.match(metrics, new RegExp(`dlq_total\\{[^}]*subscriber="reports",topic="${invalidTopic}"[^}]*\\} 1\\b`));
      assert.equal((await call('POST', `/api/mqtt/dlq/${invalidTopic}/replay`, {})).body.invalid, 1);
      assert.deepEqual((await call('POST', `/api/mqtt/dlq/${invalidTopic}/purge`, {})).body, { purged: 1 });
      assert.deepEqual((await call('GET', '/api/mqtt/dlq')).body.topics, []);

      const circuits = (await call('GET', '/api/mqtt/circuits')).body.circuits as {
        subscriber: string;
        topic: string;
        state: string;
        failures: number;
      }[];
      const breaker = circuits.find((c) => c.subscriber === 'reports' && c.topic === BOOKING_RESERVED);
      assert.equal(breaker?.state, 'closed');
      assert.ok(breaker.failures >= 1);
      const reset = await call('POST', '/api/mqtt/circuits/reset', { subscriber: 'reports', topic: BOOKING_RESERVED });
      assert.deepEqual([reset.body.status.state, reset.body.status.failures], ['closed', 0]);
    });
  });
}
