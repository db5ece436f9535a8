import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { Type } from '@sinclair/typebox';
import { EventRegistry, defineEvent } from './index.js';

// A test-only event with two versions: v2 splits the guest name and requires `nights`.
const GuestArrivedV1 = defineEvent({
  context: 'booking',
  name: 'GuestArrived',
  version: 1,
  aggregateType: 'booking',
  description: 'test v1',
  aggregateId: (p) => p.booking_id,
  payload: Type.Object({
    booking_id: Type.String(),
    guest_name: Type.String(),
    check_in: Type.String({ format: 'date' }),
    check_out: Type.String({ format: 'date' }),
  }),
});
const GuestArrivedV2 = defineEvent({
  context: 'booking',
  name: 'GuestArrived',
  version: 2,
  aggregateType: 'booking',
  description: 'test v2',
  aggregateId: (p) => p.booking_id,
  payload: Type.Object({
    booking_id: Type.String(),
    given_name: Type.String(),
    family_name: Type.String(),
    nights: Type.Integer({ minimum: 1 }),
  }),
});

const upcastV1 = {
  eventType: 'GuestArrived',
  fromVersion: 1,
  upcast: (p: Record<string, unknown>) => {
    const [given = '', ...rest] = String(p.guest_name).split(' ');
    const nights = (Date.parse(String(p.check_out)) - Date.parse(String(p.check_in))) / 86_400_000;
    return { booking_id: p.booking_id, given_name: given, family_name: rest.join(' ') || '-', nights };
  },
};

test('a v2 consumer reads a v1 event through the upcaster chain', () => {
  const producer = new EventRegistry([GuestArrivedV1]);
  const consumer = new EventRegistry([GuestArrivedV1, GuestArrivedV2], [upcastV1]);
  const old = producer.create(GuestArrivedV1, {
    booking_id: 'bk-1',
    guest_name: 'Ana María Peregrina',
    check_in: '2027-05-01',
    check_out: '2027-05-04',
  });
  assert.equal(GuestArrivedV2.topic, 'albergue.booking.v2.GuestArrived');

  const r = consumer.parse(JSON.stringify(old));
  assert.ok(r.ok, r.ok ? '' : r.reason);
  assert.equal(r.upcastedFrom, 1);
  assert.equal(r.event.event_version, 2);
  assert.equal(r.event.event_id, old.event_id);
  assert.deepEqual(r.event.payload, { booking_id: 'bk-1', given_name: 'Ana', family_name: 'María Peregrina', nights: 3 });
  assert.ok(Object.isFrozen(r.event.payload));

  // The same consumer can still choose to read v1 as v1.
  const asV1 = consumer.parse(JSON.stringify(old), { targetVersion: 1 });
  assert.ok(asV1.ok && asV1.event.event_version === 1 && asV1.upcastedFrom === undefined);
});

test('a v1 consumer refuses a v2 event with a clear reason; a missing upcaster is reported', () => {
  const both = new EventRegistry([GuestArrivedV1, GuestArrivedV2], [upcastV1]);
  const v2 = both.create(GuestArrivedV2, { booking_id: 'bk-1', given_name: 'Ana', family_name: 'P', nights: 2 });
  const r = both.parse(JSON.stringify(v2), { targetVersion: 1 });
  assert.equal(r.ok, false);
  if (!r.ok) assert.match(r.reason, /newer than this consumer reads/);

  const noUpcaster = new EventRegistry([GuestArrivedV1, GuestArrivedV2]);
  const v1 = noUpcaster.create(GuestArrivedV1, { booking_id: 'bk-1', guest_name: 'Ana', check_in: '2027-05-01', check_out: '2027-05-02' });
  const r2 = noUpcaster.parse(JSON.stringify(v1));
  assert.equal(r2.ok, false);
  if (!r2.ok) assert.match(r2.reason, /no upcaster for GuestArrived from v1 to v2/);
});

test('an upcaster that produces an invalid payload is an error result, not an exception', () => {
  const bad = new EventRegistry(
    [GuestArrivedV1, GuestArrivedV2],
    [{ eventType: 'GuestArrived', fromVersion: 1, upcast: () => ({ booking_id: 'x' }) }],
  );
  const v1 = bad.create(GuestArrivedV1, { booking_id: 'bk-1', guest_name: 'Ana', check_in: '2027-05-01', check_out: '2027-05-02' });
  const r = bad.parse(JSON.stringify(v1));
  assert.equal(r.ok, false);
  if (!r.ok) assert.match(r.reason, /after upcasting from v1/);
  const throwing = new EventRegistry(
    [GuestArrivedV1, GuestArrivedV2],
    [
      {
        eventType: 'GuestArrived',
        fromVersion: 1,
        upcast: () => {
          throw new Error('boom');
        },
      },
    ],
  );
  const r3 = throwing.parse(JSON.stringify(v1));
  assert.equal(r3.ok, false);
  if (!r3.ok) assert.match(r3.reason, /upcaster v1→v2 failed: boom/);
});
