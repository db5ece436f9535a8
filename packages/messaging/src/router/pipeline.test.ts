// The consumer's hot-path helpers: the shared deadline timer of the timeout middleware, the parsed
// envelope cache, and the ack batcher's coalescing.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { BookingReserved, parseEnvelope } from '@albergue/events';
import { waitFor } from '@albergue/platform/testing';
import { MemoryDeliveryLedger } from '../ledger/memory-ledger.js';
import type { AckOutcome, Delivery } from '../ports/ledger.js';
import { bookingReserved } from '../testing/index.js';
import { AckBatcher } from './ack-batcher.js';
import type { HandlerContext } from './context.js';
import { HandlerTimeoutError, timeout } from './middleware.js';
import { ParsedEnvelopes } from './parsed-envelopes.js';

const ctxNamed = (handler: string) => ({ handler }) as unknown as HandlerContext;

test('timeout middleware: one budget per handler from its own start; only the slow ones fail, in any completion order', async () => {
  const expired: string[] = [];
  const mw = timeout(80, (ctx) => expired.push(ctx.handler));
  const gates = new Map<string, () => void>();
  const run = mw((ctx) => new Promise<void>((resolve) => gates.set(ctx.handler, resolve)));
  const a = run(ctxNamed('a'));
  const b = run(ctxNamed('b'));
  const c = run(ctxNamed('c'));
  // c finishes first, a next; b never does.
  gates.get('c')!();
  gates.get('a')!();
  await a;
  await c;
  await assert.rejects(b, (err: unknown) => err instanceof HandlerTimeoutError && err.handler === 'b' && err.timeoutMs === 80);
  assert.deepEqual(expired, ['b']);
  // A handler that throws (synchronously or not) fails with its own error, not a timeout.
  const sync = mw(() => {
    throw new Error('sync boom');
  });
  await assert.rejects(sync(ctxNamed('s')), /sync boom/);
  const late = run(ctxNamed('late'));
  await waitFor(() => gates.has('late'));
  gates.get('late')!();
  await late;
  assert.deepEqual(expired, ['b'], 'settled handlers never expire');
});

test('parsed envelopes: a hit needs topic, event_id, version and the same body; taken once; bounded', () => {
  const cache = new ParsedEnvelopes(2);
  const e = bookingReserved('bk-p');
  const body = JSON.stringify(e);
  const parsed = parseEnvelope(body, { topic: BookingReserved.topic });
  assert.ok(parsed.ok);
  cache.put(BookingReserved.topic, e.event_id, body, 1, parsed.event);
  assert.equal(cache.take(BookingReserved.topic, e.event_id, `${body} `, 1), undefined, 'another body text: parse again');
  cache.put(BookingReserved.topic, e.event_id, body, 1, parsed.event);
  assert.equal(cache.take(BookingReserved.topic, e.event_id, body, 2), undefined, 'another target version: parse again');
  cache.put(BookingReserved.topic, e.event_id, body, 1, parsed.event);
  assert.equal(cache.take('albergue.other.v1.Thing', e.event_id, body, 1), undefined);
  assert.equal(cache.take(BookingReserved.topic, e.event_id, body, 1), parsed.event);
  assert.equal(cache.take(BookingReserved.topic, e.event_id, body, 1), undefined, 'taken once');
  for (let i = 0; i < 5; i++) cache.put(BookingReserved.topic, `id-${i}`, body, 1, parsed.event);
  assert.equal(cache.size, 2, 'the oldest entries are dropped past maxEntries');
  assert.equal(cache.take(BookingReserved.topic, 'id-0', body, 1), undefined);
  assert.equal(cache.take(BookingReserved.topic, 'id-4', body, 1), parsed.event);
  const off = new ParsedEnvelopes(0);
  off.put(BookingReserved.topic, e.event_id, body, 1, parsed.event);
  assert.equal(off.size, 0);
});

test('ack batcher: the acks of one event-loop turn go out as one ackMany, each resolving with its own outcome', async () => {
  const ledger = new MemoryDeliveryLedger();
  const calls: number[] = [];
  const original = ledger.ackMany.bind(ledger);
  ledger.ackMany = (ds: readonly Delivery[]): Promise<AckOutcome[]> => {
    calls.push(ds.length);
    return original(ds);
  };
  const topic = BookingReserved.topic;
  const events = Array.from({ length: 300 }, (_, i) => bookingReserved(`bk-a${i}`));
  await ledger.record(
    's',
    events.map((e) => ({ topic, eventId: e.event_id, body: JSON.stringify(e) })),
  );
  const leased = await ledger.lease('s', 300);
  assert.equal(leased.length, 300);
  const stale = { ...leased[0]!, leaseToken: 'forged' };
  const batcher = new AckBatcher(ledger, { maxBatch: 500 });
  const outcomes = await Promise.all([...leased, stale].map((d) => batcher.ack(d)));
  assert.deepEqual(calls, [301], 'one round trip for the whole turn');
  assert.equal(outcomes.filter((o) => o === 'acked').length, 300);
  assert.equal(outcomes[300], 'stale');
  // Split by maxBatch, with at most maxInFlight calls at once.
  const more = Array.from({ length: 5 }, (_, i) => bookingReserved(`bk-b${i}`));
  await ledger.record(
    's',
    more.map((e) => ({ topic, eventId: e.event_id, body: JSON.stringify(e) })),
  );
  calls.length = 0;
  const small = new AckBatcher(ledger, { maxBatch: 2, maxInFlight: 1 });
  assert.deepEqual(await Promise.all((await ledger.lease('s', 5)).map((d) => small.ack(d))), ['acked', 'acked', 'acked', 'acked', 'acked']);
  assert.deepEqual(calls, [2, 2, 1]);
});
