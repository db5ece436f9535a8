import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { BookingConfirmed, BookingReserved, newEnvelope, parseEnvelope, withCorrelation } from './index.js';
import { SAMPLE_PAYLOADS } from './node.js';

const reserved = () => newEnvelope(BookingReserved, { ...SAMPLE_PAYLOADS.BookingReserved, booking_id: 'bk-1', albergue_id: 'alb-1' });

test('newEnvelope starts a flow: UUIDv7 id, correlation = own id, aggregate id from payload', () => {
  const e = reserved();
  assert.match(e.event_id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(e.correlation_id, e.event_id);
  assert.equal(e.aggregate_id, 'bk-1');
  assert.equal(e.aggregate_type, 'booking');
  assert.equal(e.event_version, 1);
});

test('withCorrelation: child inherits correlation and is caused by the parent', () => {
  const parent = reserved();
  const child = newEnvelope(
    BookingConfirmed,
    { booking_id: 'bk-1', albergue_id: 'alb-1', payment_id: 'p-1', confirmed_at: new Date().toISOString() },
    withCorrelation(parent),
  );
  assert.equal(child.correlation_id, parent.correlation_id);
  assert.equal(child.causation_id, parent.event_id);
  assert.notEqual(child.event_id, parent.event_id);
});

test('a created envelope is deeply frozen: mutation throws in strict mode', () => {
  const e = reserved();
  assert.throws(() => {
    (e as { aggregate_id: string }).aggregate_id = 'x';
  }, TypeError);
  assert.throws(() => {
    (e.payload.guest as { name: string }).name = 'x';
  }, TypeError);
  assert.throws(() => {
    (e.payload.total as { amount_minor: number }).amount_minor = 1;
  }, TypeError);
});

test('newEnvelope refuses an invalid payload with every problem', () => {
  assert.throws(
    () => newEnvelope(BookingReserved, { ...reserved().payload, beds: 0, check_in: 'tomorrow' }),
    (err: Error) => /\/payload\/beds/.test(err.message) && /\/payload\/check_in/.test(err.message),
  );
});

test('parseEnvelope round-trips JSON text and bytes', () => {
  const e = reserved();
  const text = JSON.stringify(e);
  for (const input of [text, Buffer.from(text), new TextEncoder().encode(text)]) {
    const r = parseEnvelope(input);
    assert.ok(r.ok, r.ok ? '' : r.reason);
    assert.deepEqual(r.event, e);
    assert.ok(Object.isFrozen(r.event.payload));
  }
});

test('parseEnvelope returns errors, never throws, on garbage', () => {
  const e = reserved();
  const cases: [unknown, RegExp][] = [
    ['not json {', /not JSON/],
    ['[1,2,3]', /must be a JSON object, got an array/],
    ['"x".repeat', /not JSON/],
    ['x'.repeat(1024 * 1024), /larger than the/],
    [JSON.stringify({ ...e, event_version: 9 }), /unknown version 9 of BookingReserved/],
    [JSON.stringify({ ...e, event_type: 'Nope' }), /unknown event type "Nope"/],
    [JSON.stringify({ ...e, event_id: 'abc' }), /\/event_id/],
    [JSON.stringify({ ...e, extra: 1 }), /unknown field "extra"/],
    ['null', /got null/],
    [42, /got number/],
    [undefined, /got undefined/],
  ];
  for (const [input, re] of cases) {
    const r = parseEnvelope(input);
    assert.equal(r.ok, false, `accepted ${String(input).slice(0, 40)}`);
    if (!r.ok) assert.match(r.reason, re);
  }
});

test('parseEnvelope lists every payload problem with its JSON path', () => {
  const e = reserved();
  const bad = { ...e, payload: { ...e.payload, beds: 'two', guest: { ...e.payload.guest, email: 'nope' }, total: undefined } };
  const r = parseEnvelope(JSON.stringify(bad));
  assert.equal(r.ok, false);
  if (r.ok) return;
  const paths = r.problems.map((p) => p.path).sort();
  assert.deepEqual(paths, ['/payload', '/payload/beds', '/payload/guest/email'].sort());
  assert.match(r.reason, /missing required field "total"/);
});

test('parseEnvelope checks the topic it arrived on', () => {
  const e = reserved();
  assert.ok(parseEnvelope(JSON.stringify(e), { topic: 'albergue/booking/v1/BookingReserved' }).ok);
  const r = parseEnvelope(JSON.stringify(e), { topic: 'albergue/booking/v1/BookingConfirmed' });
  assert.equal(r.ok, false);
});
