/** DLQ operations (dlq/operations.ts) on a ledger fixture; run by each adapter's test file. */
import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';
import { Type } from '@sinclair/typebox';
import type { EventEnvelope } from '@albergue/events';
import { BookingConfirmed, BookingReserved, EventRegistry, defineEvent, newEnvelope } from '@albergue/events';
import type { LedgerFactory, LedgerFixture } from '../ledger/ledger.contract.js';
import { fastPolicy, unique } from '../ledger/ledger.contract.js';
import type { DeadLetterInput } from '../ports/ledger.js';
import { DlqOperations } from './operations.js';
import { bookingReserved } from '../testing/fixtures.js';

const reserved = (bookingId: string) => bookingReserved(bookingId);

const invalidEntry = (topic: string, subscriber: string, id: string, body: string): DeadLetterInput => {
  const at = new Date().toISOString();
  return {
    id,
    topic,
    subscriber,
    body,
    reason: 'invalid_envelope',
    attempts: 0,
    errors: [{ attempt: 0, at, message: 'invalid' }],
    firstFailureAt: at,
    lastFailureAt: at,
    deadLetteredAt: at,
  };
};

export function dlqOperationsContract(name: string, factory: LedgerFactory): void {
  describe(`${name}: DLQ operations`, () => {
    let f: LedgerFixture;
    before(async () => {
      f = await factory();
    });
    after(async () => {
      await f.close();
    });

    /** Dead-letters `envelopes` for `sub` through the ledger (one failed attempt each). */
    async function deadLetter(sub: string, topic: string, envelopes: readonly EventEnvelope[]): Promise<void> {
      await f.ledger.register(sub, topic, fastPolicy({ maxAttempts: 1 }));
      await f.ledger.record(
        sub,
        envelopes.map((e) => ({ topic, eventId: e.event_id, body: JSON.stringify(e) })),
      );
      const got = await f.ledger.lease(sub, envelopes.length);
      assert.equal(got.length, envelopes.length);
      for (const d of got) assert.equal(await f.ledger.nack(d, 'handler bug'), 'dead-lettered');
    }

    test('list topics, read pages, dry-run then real replay with a fresh budget, invalid entries stay, purge', async () => {
      const ops = new DlqOperations({ deadLetters: f.deadLetters, ledger: f.ledger });
      const topic = BookingReserved.topic;
      const sub = unique('svc');
      const [e1, e2] = [reserved('bk-1'), reserved('bk-2')];
      await deadLetter(sub, topic, [e1, e2]);
      const garbage = invalidEntry(topic, sub, unique('bad'), 'not json {');
      await f.deadLetters.add(garbage);
      const confirmed = newEnvelope(BookingConfirmed, {
        booking_id: 'bk-1',
        albergue_id: 'alb-1',
        payment_id: 'p-1',
        confirmed_at: new Date().toISOString(),
      });
      const misplaced = invalidEntry(topic, sub, confirmed.event_id, JSON.stringify(confirmed));
      await f.deadLetters.add(misplaced);

      assert.equal((await ops.topics()).find((t) => t.topic === topic)?.depth, 4);
      const page = await ops.read(topic, { offset: 1, limit: 2 });
      assert.equal(page.total, 4);
      assert.equal(page.entries.length, 2);
      assert.equal((await ops.read(topic)).entries.length, 4);
      const before = await f.deadLetters.list(topic);

      // Dry run: a report, no change.
      const dry = await ops.replay(topic, { dryRun: true });
      assert.equal(dry.dryRun, true);
      assert.equal(dry.replayed, 2);
      assert.equal(dry.invalid, 2);
      const byId = new Map(dry.entries.map((r) => [r.id, r]));
      assert.equal(byId.get(e1.event_id)?.outcome, 'would-replay');
      assert.equal(byId.get(e1.event_id)?.subscriber, sub);
      assert.equal(byId.get(garbage.id)?.outcome, 'invalid');
      assert.match(byId.get(garbage.id)?.reason ?? '', /not JSON/);
      assert.match(byId.get(misplaced.id)?.reason ?? '', /does not belong on topic albergue\.booking\.v1\.BookingReserved/);
      assert.deepEqual(await f.deadLetters.list(topic), before, 'a dry run changes nothing');
      assert.deepEqual(await f.ledger.depth(sub), { [topic]: 0 });

      // Replay one by id: back in the ledger on attempt 1, without its old errors; gone from the DLQ.
      const one = await ops.replay(topic, { ids: [e1.event_id, 'no-such-id'] });
      assert.deepEqual(
        one.entries.map((r) => [r.id, r.outcome]).sort(),
        [
          [e1.event_id, 'replayed'],
          ['no-such-id', 'not-found'],
        ].sort(),
      );
      assert.equal(one.notFound, 1);
      assert.equal(await f.deadLetters.get(topic, e1.event_id), undefined);
      const [d] = await f.ledger.lease(sub, 10);
      assert.equal(d?.eventId, e1.event_id);
      assert.equal(d.attempt, 1);
      assert.deepEqual(d.errors, []);
      assert.equal(d.body, JSON.stringify(e1), 'the body exactly as received');
      assert.equal(await f.ledger.ack(d), 'acked');

      // Replay the rest: the valid one goes, the invalid ones stay with their reasons.
      const rest = await ops.replay(topic);
      assert.equal(rest.replayed, 1);
      assert.equal(rest.invalid, 2);
      assert.deepEqual((await f.deadLetters.list(topic)).map((e) => e.id).sort(), [garbage.id, misplaced.id].sort());
      const [d2] = await f.ledger.lease(sub, 10);
      assert.equal(d2?.eventId, e2.event_id);
      await f.ledger.ack(d2);

      // An entry whose event was processed since: a duplicate, dropped from the DLQ.
      await f.deadLetters.add({ ...invalidEntry(topic, sub, e1.event_id, JSON.stringify(e1)), reason: 'max_attempts' });
      const dryDup = await ops.replay(topic, { ids: [e1.event_id], dryRun: true });
      assert.equal(dryDup.entries[0]?.outcome, 'would-skip-duplicate');
      const dup = await ops.replay(topic, { ids: [e1.event_id], subscriber: sub });
      assert.equal(dup.entries[0]?.outcome, 'duplicate');
      assert.equal(dup.duplicates, 1);
      assert.equal(await f.deadLetters.get(topic, e1.event_id), undefined);
      assert.deepEqual(await f.ledger.lease(sub, 10), []);

      // Purge.
      assert.equal(await ops.purge(topic, { ids: [garbage.id] }), 1);
      assert.equal(await ops.purge(topic), 1);
      assert.equal(
        (await ops.topics()).some((t) => t.topic === topic),
        false,
      );
    });

    test('replay puts each entry back to its own subscriber; subscriber filter', async () => {
      const ops = new DlqOperations({ deadLetters: f.deadLetters, ledger: f.ledger });
      const topic = BookingReserved.topic;
      const [s1, s2] = [unique('svc'), unique('svc')];
      const e = reserved('bk-9');
      await deadLetter(s1, topic, [e]);
      await deadLetter(s2, topic, [e]);
      assert.equal((await f.deadLetters.list(topic)).filter((x) => x.id === e.event_id).length, 2);
      const r1 = await ops.replay(topic, { ids: [e.event_id], subscriber: s2 });
      assert.deepEqual(
        r1.entries.map((r) => [r.subscriber, r.outcome]),
        [[s2, 'replayed']],
      );
      assert.deepEqual(await f.ledger.depth(s1), { [topic]: 0 });
      assert.deepEqual(await f.ledger.depth(s2), { [topic]: 1 });
      const r2 = await ops.replay(topic, { ids: [e.event_id] });
      assert.deepEqual(
        r2.entries.map((r) => [r.subscriber, r.outcome]),
        [[s1, 'replayed']],
      );
      assert.deepEqual(await f.ledger.depth(s1), { [topic]: 1 });
      await f.ledger.ackMany([...(await f.ledger.lease(s1, 5)), ...(await f.ledger.lease(s2, 5))]);
    });

    test('replay upcasts old versions to validate them and records the original body', async () => {
      // A registry with an event at v1 and v2 and an upcaster between them (the real registry has only v1s).
      const v1 = defineEvent({
        context: 'booking',
        name: 'DlqProbe',
        version: 1,
        aggregateType: 'booking',
        description: 'test',
        aggregateId: (p) => p.id,
        payload: Type.Object({ id: Type.String() }, { additionalProperties: false }),
      });
      const v2 = defineEvent({
        context: 'booking',
        name: 'DlqProbe',
        version: 2,
        aggregateType: 'booking',
        description: 'test',
        aggregateId: (p) => p.id,
        payload: Type.Object({ id: Type.String(), note: Type.String() }, { additionalProperties: false }),
      });
      const registry = new EventRegistry([v1, v2], [{ eventType: 'DlqProbe', fromVersion: 1, upcast: (p) => ({ ...p, note: 'upcast' }) }]);
      const ops = new DlqOperations({ deadLetters: f.deadLetters, ledger: f.ledger, parse: (b, o) => registry.parse(b, o) });
      const old = registry.create(v1, { id: 'x1' });
      const sub = unique('svc');
      await deadLetter(sub, v1.topic, [old]);
      const dry = await ops.replay(v1.topic, { dryRun: true });
      assert.equal(dry.entries[0]?.outcome, 'would-replay');
      assert.equal(dry.entries[0]?.upcastedFrom, 1);
      const real = await ops.replay(v1.topic);
      assert.equal(real.entries[0]?.outcome, 'replayed');
      const [d] = await f.ledger.lease(sub, 1);
      assert.equal(d?.body, JSON.stringify(old));
      await f.ledger.ack(d);
    });
  });
}
