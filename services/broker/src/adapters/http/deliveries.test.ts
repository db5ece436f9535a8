// POST /api/mqtt/deliveries: the ledger's facts of events per subscriber, over the admin API.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { newEventId } from '@albergue/events';
import type { RunningBroker } from '../../start.js';
import { ADMIN_TOKEN, startTestBroker } from '../../testing/harness.js';
import { BOOKING_RESERVED, bookingReserved } from '../../testing/fixtures.js';

let broker: RunningBroker;
const auth = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

interface Delivery {
  subscriber: string;
  state: string;
  attempts: number;
  errors: { message: string }[];
  next_attempt_at?: string;
  dead_letter?: { id: string; reason: string; code?: string };
}
interface Answer {
  events: { event_id: string; deliveries: Delivery[] }[];
  breakers: { subscriber: string; topic: string; state: string }[];
  errors?: { path: string }[];
  code?: string;
  detail?: string;
}

async function post(body: unknown, headers: Record<string, string> = auth): Promise<{ status: number; body: Answer }> {
  const res = await fetch(`${broker.httpUrl}/api/mqtt/deliveries`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Answer };
}

before(async () => {
  broker = await startTestBroker({ wsPort: null });
});
after(async () => {
  await broker?.close();
});

test('each declared subscriber of the topic is answered: pending with its errors, dead-lettered, unknown; open breakers listed', async () => {
  const { ledger, breakers } = broker.ledger;
  const e = bookingReserved(1);
  const body = JSON.stringify(e);
  // payment handles it; audit (the stand-in declares every event) fails it for good.
  await ledger.register('payment', BOOKING_RESERVED, {
    maxAttempts: 3,
    visibilityTimeoutMs: 5_000,
    backoff: { initialMs: 60_000, maxMs: 60_000, multiplier: 2, jitter: 0 },
    breaker: { failureThreshold: 1, windowMs: 60_000, openMs: 60_000 },
    dedupWindowMs: 600_000,
  });
  await ledger.record('payment', [{ topic: BOOKING_RESERVED, eventId: e.event_id, body }]);
  await ledger.record('audit', [{ topic: BOOKING_RESERVED, eventId: e.event_id, body }]);
  const [p] = await ledger.lease('payment', 1);
  assert.equal(await ledger.nack(p!, 'downstream 503'), 'retry-scheduled');
  const [a] = await ledger.lease('audit', 1);
  assert.equal(await ledger.nack(a!, 'poison', { permanent: true, code: 'bad_payload' }), 'dead-lettered');
  assert.equal((await breakers.status('payment', BOOKING_RESERVED)).state, 'open');

  const res = await post({
    events: [
      { event_id: e.event_id, topic: BOOKING_RESERVED },
      { event_id: newEventId(), topic: 'albergue.payment.v1.PaymentConfirmed' },
    ],
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const [first, second] = res.body.events as [Answer['events'][number], Answer['events'][number]];
  assert.equal(first.event_id, e.event_id);
  const bySub = Object.fromEntries(first.deliveries.map((d) => [d.subscriber, d])) as Record<'payment' | 'audit', Delivery>;
  assert.deepEqual(Object.keys(bySub).sort(), ['audit', 'payment']);
  assert.equal(bySub.payment.state, 'pending');
  assert.equal(bySub.payment.attempts, 1);
  assert.equal(bySub.payment.errors[0]?.message, 'downstream 503');
  assert.ok(Date.parse(bySub.payment.next_attempt_at ?? '') > Date.now() + 50_000);
  assert.equal(bySub.audit.state, 'dead_lettered');
  assert.equal(bySub.audit.dead_letter?.reason, 'permanent_error');
  assert.equal(bySub.audit.dead_letter?.code, 'bad_payload');
  assert.equal(bySub.audit.dead_letter?.id, e.event_id);
  // PaymentConfirmed: booking and audit declare it; the ledger has never seen it.
  assert.deepEqual(second.deliveries.map((d) => [d.subscriber, d.state]).sort(), [
    ['audit', 'unknown'],
    ['booking', 'unknown'],
  ]);
  assert.deepEqual(
    res.body.breakers.map((b) => [b.subscriber, b.topic, b.state]),
    [['payment', BOOKING_RESERVED, 'open']],
  );

  // Named subscribers only.
  const only = await post({ events: [{ event_id: e.event_id, topic: BOOKING_RESERVED, subscribers: ['payment'] }] });
  assert.deepEqual(
    only.body.events[0]?.deliveries.map((d) => d.subscriber),
    ['payment'],
  );
});

test('admin token required; bad input is a problem with its pointer; too many pairs is a 400', async () => {
  const noAuth = await post({ events: [{ event_id: 'x', topic: BOOKING_RESERVED }] }, { 'content-type': 'application/json' });
  assert.equal(noAuth.status, 401);
  const bad = await post({ events: [{ event_id: 'x', topic: 'albergue/booking/#' }] });
  assert.equal(bad.status, 400);
  assert.ok(
    bad.body.errors?.some((x) => x.path === '/body/events/0/topic'),
    JSON.stringify(bad.body),
  );
  const empty = await post({ events: [] });
  assert.equal(empty.status, 400);
  const extra = await post({ events: [{ event_id: 'x', topic: BOOKING_RESERVED, what: 1 }] });
  assert.equal(extra.status, 400);
  const many = await post({
    events: Array.from({ length: 30 }, (_, i) => ({
      event_id: `e${i}`,
      topic: BOOKING_RESERVED,
      subscribers: Array.from({ length: 40 }, (_x, j) => `s${j}`),
    })),
  });
  assert.equal(many.status, 400);
  assert.equal(many.body.code, 'invalid_request');
  assert.match(many.body.detail ?? '', /1000/);
});
