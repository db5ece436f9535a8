// dlq_total is counted where dead letters are written, whatever made them, on both adapters.
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { createMetricsRegistry } from '@albergue/platform';
import { uniqueName, waitFor } from '@albergue/platform/testing';
import { countDeadLetters } from '../metrics.js';
import { mergePolicy } from '../ledger/policy.js';
import { DEFAULT_POLICY } from '../ports/ledger.js';
import { metricValue } from '../testing/fixtures.js';
import { ledgerKinds, startTestLedger } from '../testing/ledgers.js';
import { rejectedMessage } from './entries.js';

const topic = 'albergue.booking.v1.BookingReserved';

for (const kind of ledgerKinds()) {
  describe(`dlq_total on the ${kind} ledger`, () => {
    test('max attempts, a lapsed last lease, a permanent error and an invalid message each count once, per subscriber and topic; asking twice counts once', async () => {
      const l = await startTestLedger(kind);
      const metrics = createMetricsRegistry('payment');
      const sub = uniqueName('dlqt');
      const other = uniqueName('other');
      try {
        countDeadLetters(metrics, 'payment', sub, [l.ledger, l.deadLetters]);
        countDeadLetters(metrics, 'payment', sub, [l.deadLetters]); // the router and the consumer both ask
        const policy = mergePolicy(DEFAULT_POLICY, {
          maxAttempts: 1,
          visibilityTimeoutMs: 150,
          backoff: { initialMs: 0, maxMs: 0, multiplier: 1, jitter: 0 },
          dedupWindowMs: 60_000,
        });
        await l.ledger.register(sub, topic, policy);
        await l.ledger.register(other, topic, policy);
        const body = (id: string) => `{"event_id":"${id}"}`;
        await l.ledger.record(
          sub,
          ['m1', 'm2', 'm3'].map((id) => ({ topic, eventId: id, body: body(id) })),
        );
        await l.ledger.record(other, [{ topic, eventId: 'o1', body: body('o1') }]);
        const leased = await l.ledger.lease(sub, 3);
        assert.equal(leased.length, 3);
        assert.equal(
          await l.ledger.nack(
            leased.find((d) => d.eventId === 'm1')!,
            'boom',
          ),
          'dead-lettered',
        );
        assert.equal(
          await l.ledger.nack(
            leased.find((d) => d.eventId === 'm2')!,
            'poison',
            { permanent: true, code: 'poison' },
          ),
          'dead-lettered',
        );
        // m3's lease lapses on its last attempt: dead-lettered by the next lease call.
        await waitFor(
          async () => {
            await l.ledger.lease(sub, 1);
            return (await l.deadLetters.get(topic, 'm3', sub)) !== undefined;
          },
          { message: 'the lapsed last lease dead-lettered' },
        );
        await l.deadLetters.add(rejectedMessage({ subscriber: sub, topic, body: 'not json', problems: ['/: not JSON'] }));
        await l.deadLetters.add(rejectedMessage({ subscriber: sub, topic, body: 'not json', problems: ['/: not JSON'] }));
        const [o1] = await l.ledger.lease(other, 1);
        await l.ledger.nack(o1!, 'boom');
        assert.equal(await metricValue(metrics, 'dlq_total', { subscriber: sub, topic }), 4);
        assert.equal(
          await metricValue(metrics, 'dlq_total', { subscriber: other }),
          0,
          "another subscriber's dead letters are not counted under this one",
        );
      } finally {
        await l.close();
      }
    });
  });
}
