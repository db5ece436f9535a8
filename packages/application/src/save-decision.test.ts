import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EventEnvelope } from '@albergue/events';
import { AlbergueCapacityChanged, AlbergueRegistered, BookingReserved, newEventId } from '@albergue/events';
import { SAMPLE_PAYLOADS } from '@albergue/events/node';
import type { DecisionModel } from './save-decision.js';
import { envelopeMapping, saveDecision } from './save-decision.js';

type Ev =
  | { readonly type: 'AlbergueRegistered'; readonly data: typeof SAMPLE_PAYLOADS.AlbergueRegistered }
  | { readonly type: 'AlbergueCapacityChanged'; readonly data: typeof SAMPLE_PAYLOADS.AlbergueCapacityChanged }
  | { readonly type: 'Internal'; readonly data: null };
const toPublic = envelopeMapping({ AlbergueRegistered, AlbergueCapacityChanged });
const model: DecisionModel<number, Ev> = {
  evolve: (n) => n + 1,
  toEnvelope: (e, meta) => (e.type === 'Internal' ? undefined : toPublic(e, meta)),
};
const registered: Ev = { type: 'AlbergueRegistered', data: SAMPLE_PAYLOADS.AlbergueRegistered };
const changed: Ev = { type: 'AlbergueCapacityChanged', data: SAMPLE_PAYLOADS.AlbergueCapacityChanged };
const internal: Ev = { type: 'Internal', data: null };

function outbox() {
  const rows: EventEnvelope[] = [];
  return { rows, tx: { appendToOutbox: (e: readonly EventEnvelope[]) => Promise.resolve(void rows.push(...e)) } };
}

test('a new flow: the first event is its own correlation and cause, the next ones chain on it', async () => {
  const o = outbox();
  const saved = await saveDecision(o.tx, model, 0, [registered, internal, changed], {}, (d) => Promise.resolve(d));
  const [a, b] = saved.envelopes;
  assert.ok(a && b);
  assert.deepEqual(o.rows, saved.envelopes);
  assert.equal(saved.after, 3, 'every event evolves the state, internal ones included');
  assert.deepEqual([a.correlation_id, a.causation_id], [a.event_id, a.event_id]);
  assert.deepEqual([b.correlation_id, b.causation_id], [a.event_id, a.event_id]);
  assert.deepEqual([saved.stored?.correlation_id, saved.stored?.last_event_id], [a.event_id, b.event_id]);
});

test("the caller's flow and cause; only internal events → nothing published, the cause stays the last", async () => {
  const o = outbox();
  const [flow, cmd, evt] = [newEventId(), newEventId(), newEventId()];
  const joined = await saveDecision(o.tx, model, 0, [changed], { correlation_id: flow, causation_id: cmd }, (d) => Promise.resolve(d));
  assert.deepEqual([joined.envelopes[0]?.correlation_id, joined.envelopes[0]?.causation_id], [flow, cmd]);
  const quiet = await saveDecision(o.tx, model, 0, [internal], { correlation_id: flow, causation_id: evt }, (d) => Promise.resolve(d));
  assert.deepEqual(quiet.envelopes, []);
  assert.equal(quiet.stored?.last_event_id, evt);
  assert.equal(o.rows.length, 1);
});

test('no events, or a state the service does not store: nothing is written', async () => {
  const o = outbox();
  let stores = 0;
  const none = await saveDecision(o.tx, model, 5, [], {}, () => Promise.resolve(++stores));
  assert.deepEqual([none.envelopes, none.after, none.stored, stores], [[], 5, undefined, 0]);
  const declined = await saveDecision(o.tx, model, 0, [registered], {}, () => Promise.resolve(undefined));
  assert.deepEqual([declined.envelopes, declined.stored, o.rows.length], [[], undefined, 0]);
});

test('a failing store writes no outbox row (the caller rolls the transaction back)', async () => {
  const o = outbox();
  await assert.rejects(
    saveDecision(o.tx, model, 0, [registered], {}, () => Promise.reject(new Error('conflict'))),
    /conflict/,
  );
  assert.equal(o.rows.length, 0);
});

test('envelopeMapping: a key naming another definition is refused at once; the payload is validated', () => {
  assert.throws(
    () => envelopeMapping({ AlbergueRegistered: BookingReserved }),
    /key AlbergueRegistered names the definition of BookingReserved/,
  );
  assert.throws(() =>
    toPublic(
      { type: 'AlbergueCapacityChanged', data: { ...SAMPLE_PAYLOADS.AlbergueCapacityChanged, beds: -1 } },
      { event_id: '0190a000-0000-7000-8000-000000000000', correlation_id: 'c', causation_id: 'c' },
    ),
  );
});
