/**
 * The delivery-ledger contract (ports/ledger.ts), run by every adapter's test file against real time
 * with short timeouts. A fixture is one ledger on a fresh, isolated store; `peer()` opens a second
 * ledger instance on the same store (another process on the same Redis).
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '@albergue/platform/testing';
import type {
  BreakerState,
  CircuitBreakerStore,
  DeadLetterInput,
  DeadLetterStore,
  Delivery,
  DeliveryFact,
  DeliveryLedger,
  IncomingMessage,
  SubscriptionPolicy,
} from '../ports/ledger.js';
import { DEFAULT_POLICY, redeliveryHorizonMs } from '../ports/ledger.js';
import { backoffDelayMs, mergePolicy } from './policy.js';
import { boundedBody } from '../dlq/entries.js';

interface LedgerStores {
  readonly ledger: DeliveryLedger;
  readonly deadLetters: DeadLetterStore;
  readonly breakers: CircuitBreakerStore;
}

export interface LedgerFixture extends LedgerStores {
  /** A second instance sharing the first one's state. */
  peer(): Promise<LedgerStores>;
  /** Closes the fixture and every peer, and deletes what it stored. */
  close(): Promise<void>;
}

export type LedgerFactory = () => Promise<LedgerFixture>;

let seq = 0;
/** Names unique within the run (fixtures are isolated from each other already). */
export const unique = (prefix: string): string => `${prefix}${++seq}_${Math.random().toString(36).slice(2, 8)}`;

export const topicA = 'albergue.booking.v1.BookingReserved';
export const topicB = 'albergue.payment.v1.PaymentConfirmed';

/** A policy with timeouts short enough for tests; `over` replaces parts of it. */
export function fastPolicy(over: Partial<SubscriptionPolicy> = {}): SubscriptionPolicy {
  return mergePolicy(
    {
      maxAttempts: 3,
      visibilityTimeoutMs: 5_000,
      backoff: { initialMs: 10, maxMs: 100, multiplier: 2, jitter: 0 },
      breaker: { failureThreshold: 1_000, windowMs: 10_000, openMs: 10_000 },
      dedupWindowMs: 60_000,
    },
    over,
  );
}

export const msg = (topic: string, eventId: string, body = `{"event_id":"${eventId}"}`): IncomingMessage => ({ topic, eventId, body });

/**
 * Resolves once the clock reads later than `at` (epoch ms): for deadlines the ledger states itself
 * (a delivery's leaseExpiresAt) and for orderings that need distinct timestamps. Both adapters keep
 * time on this machine's clock (the Redis ledger reads the server's TIME), so there is no clock to
 * inject into the Redis scripts.
 */
async function clockPast(at: number, message: string): Promise<void> {
  await waitFor(() => Date.now() > at, { intervalMs: 1, message });
}

/** A later millisecond than any timestamp taken so far: what is recorded next sorts after it. */
const nextMillisecond = (): Promise<void> => clockPast(Date.now() + 1, 'the clock to move on');

/** Waits until the breaker of `sub`/`topic` reports `state` (openMs elapsing, a failure trimmed, …). */
async function breakerState(
  breakers: CircuitBreakerStore,
  sub: string,
  topic: string,
  state: BreakerState,
  timeoutMs = 5_000,
): Promise<void> {
  await waitFor(async () => (await breakers.status(sub, topic)).state === state, {
    timeoutMs,
    intervalMs: 5,
    message: `breaker ${sub}/${topic} ${state}`,
  });
}

/**
 * Runs a "not yet" check only while the clock proves it is still too early: `since` is taken before
 * the operation that started the wait, so a result seen before since + ms is certainly early. On a
 * stalled machine the check is skipped rather than failing falsely.
 */
async function whileEarlier<T>(since: number, ms: number, probe: () => Promise<T>, check: (v: T) => void): Promise<void> {
  const v = await probe();
  if (Date.now() < since + ms) check(v);
}

/** Leases until `pred` holds for the batch (or the deadline passes); returns that batch. */
async function leaseUntil(
  ledger: DeliveryLedger,
  sub: string,
  max: number,
  pred: (d: Delivery[]) => boolean,
  timeoutMs = 3_000,
): Promise<Delivery[]> {
  return waitFor(
    async () => {
      const got = await ledger.lease(sub, max);
      if (pred(got)) return got;
      for (const d of got) await ledger.ack(d);
      // waitFor reports the last error: what the last lease returned.
      throw new Error(`last lease: ${got.map((d) => `${d.eventId}#${d.attempt}`).join(', ') || 'nothing'}`);
    },
    { timeoutMs, intervalMs: 10, message: `lease(${sub}) to return the expected batch` },
  );
}

/** Leases until one delivery comes back (without acking anything it sees). */
async function leaseOne(ledger: DeliveryLedger, sub: string, timeoutMs = 3_000): Promise<Delivery> {
  let overfull = 0;
  const d = await waitFor(
    async () => {
      const got = await ledger.lease(sub, 1);
      overfull = Math.max(overfull, got.length);
      return got[0];
    },
    { timeoutMs, intervalMs: 5, message: `something to lease for ${sub}` },
  );
  assert.ok(overfull <= 1, `lease(${sub}, 1) returned ${overfull} deliveries`);
  return d;
}

export function ledgerContract(name: string, factory: LedgerFactory): void {
  describe(`${name}: delivery ledger contract`, () => {
    let f: LedgerFixture;
    let ledger: DeliveryLedger;
    before(async () => {
      f = await factory();
      ledger = f.ledger;
    });
    after(async () => {
      await f.close();
    });

    test('record is idempotent by event_id; after ack a redelivery within the dedup window is a duplicate', async () => {
      const sub = unique('s');
      await ledger.register(sub, topicA, fastPolicy());
      assert.deepEqual(await ledger.record(sub, [msg(topicA, 'e1'), msg(topicA, 'e1'), msg(topicA, 'e2')]), [
        'recorded',
        'duplicate',
        'recorded',
      ]);
      assert.deepEqual(await ledger.record(sub, [msg(topicA, 'e1', 'other body')]), ['duplicate']);
      assert.deepEqual(await ledger.depth(sub), { [topicA]: 2 });

      const got = await ledger.lease(sub, 10);
      assert.deepEqual(got.map((d) => d.eventId).sort(), ['e1', 'e2']);
      const e1 = got.find((d) => d.eventId === 'e1')!;
      assert.equal(e1.body, '{"event_id":"e1"}', 'the first body is kept');
      assert.equal(e1.attempt, 1);
      assert.equal(e1.maxAttempts, 3);
      assert.equal(e1.subscriber, sub);
      assert.equal(e1.topic, topicA);
      assert.deepEqual(e1.errors, []);
      assert.ok(e1.leaseExpiresAt > e1.firstReceivedAt);

      assert.equal(await ledger.isProcessed(sub, topicA, 'e1'), false);
      assert.equal(await ledger.ack(e1), 'acked');
      assert.equal(await ledger.ack(e1), 'stale', 'a second ack of the same lease');
      assert.equal(await ledger.isProcessed(sub, topicA, 'e1'), true);
      assert.deepEqual(await ledger.record(sub, [msg(topicA, 'e1')]), ['duplicate']);
      assert.deepEqual(await ledger.depth(sub), { [topicA]: 1 });
      assert.deepEqual(await ledger.lease(sub, 10), [], 'e2 is leased, e1 is done');

      // Another subscriber is another consumer group: its own entry, its own dedup.
      const other = unique('s');
      assert.deepEqual(await ledger.record(other, [msg(topicA, 'e1')]), ['recorded']);
      assert.equal(await ledger.isProcessed(other, topicA, 'e1'), false);
    });

    test('the dedup window expires: the same event_id is recorded again afterwards', async () => {
      const sub = unique('s');
      await ledger.register(
        sub,
        topicB,
        fastPolicy({
          maxAttempts: 1,
          visibilityTimeoutMs: 200,
          backoff: { initialMs: 0, maxMs: 0, multiplier: 1, jitter: 0 },
          dedupWindowMs: 300,
        }),
      );
      await ledger.record(sub, [msg(topicB, 'x')]);
      const t0 = Date.now();
      assert.equal(await ledger.ack((await ledger.lease(sub, 1))[0]!), 'acked');
      await whileEarlier(
        t0,
        300,
        () => ledger.record(sub, [msg(topicB, 'x')]),
        (r) => assert.deepEqual(r, ['duplicate']),
      );
      await waitFor(async () => !(await ledger.isProcessed(sub, topicB, 'x')), { intervalMs: 10, message: 'the dedup window to expire' });
      assert.ok(Date.now() - t0 >= 290, `forgotten after ${Date.now() - t0} ms, within the 300 ms window`);
      assert.deepEqual(await ledger.record(sub, [msg(topicB, 'x')]), ['recorded']);
    });

    test('register refuses a dedup window shorter than the redelivery horizon, with a clear message', async () => {
      const sub = unique('s');
      const p = { ...DEFAULT_POLICY, dedupWindowMs: 60_000 };
      assert.equal(redeliveryHorizonMs(p), 180_000);
      await assert.rejects(ledger.register(sub, topicA, p), (err: Error) => {
        assert.match(err.message, new RegExp(sub));
        assert.match(err.message, /BookingReserved/);
        assert.match(err.message, /dedupWindowMs 60000 ms is shorter than the redelivery horizon/);
        assert.match(err.message, /5 × 30000 \+ 30000 = 180000 ms/);
        assert.match(err.message, /at least 180000/);
        return true;
      });
      await ledger.register(sub, topicA, { ...p, dedupWindowMs: 180_000 });
      await assert.rejects(ledger.register(sub, topicA, { ...p, maxAttempts: 0 }), /maxAttempts must be a positive integer/);
    });

    test('a topic recorded without register gets the default policy', async () => {
      const sub = unique('s');
      await ledger.record(sub, [msg(topicB, 'd1')]);
      const [d] = await ledger.lease(sub, 5);
      assert.equal(d?.maxAttempts, DEFAULT_POLICY.maxAttempts);
      assert.ok(d.leaseExpiresAt - d.firstReceivedAt >= DEFAULT_POLICY.visibilityTimeoutMs - 1_000);
      assert.equal(await ledger.ack(d), 'acked');
    });

    test('lease: oldest first across topics, at most max, nothing leased twice', async () => {
      const sub = unique('s');
      await ledger.register(sub, topicA, fastPolicy());
      await ledger.register(sub, topicB, fastPolicy());
      await ledger.record(sub, [msg(topicA, 'a1')]);
      await nextMillisecond();
      await ledger.record(sub, [msg(topicB, 'b1')]);
      await nextMillisecond();
      await ledger.record(sub, [msg(topicA, 'a2'), msg(topicB, 'b2')]);
      const first = await ledger.lease(sub, 2);
      assert.deepEqual(
        first.map((d) => d.eventId),
        ['a1', 'b1'],
      );
      const rest = await ledger.lease(sub, 10);
      assert.deepEqual(rest.map((d) => d.eventId).sort(), ['a2', 'b2']);
      assert.deepEqual(await ledger.lease(sub, 10), []);
      assert.deepEqual(await ledger.depth(sub), { [topicA]: 2, [topicB]: 2 }, 'leased messages still count in depth');
      assert.deepEqual(await ledger.ackMany([...first, ...rest]), ['acked', 'acked', 'acked', 'acked']);
      assert.deepEqual(await ledger.depth(sub), { [topicA]: 0, [topicB]: 0 });
    });

    test('lease exclusivity: two instances leasing concurrently never get the same message', async () => {
      const sub = unique('s');
      const peer = await f.peer();
      await ledger.register(sub, topicA, fastPolicy());
      const n = 120;
      const outcomes = await ledger.record(
        sub,
        Array.from({ length: n }, (_, i) => msg(topicA, `m${i}`)),
      );
      assert.equal(outcomes.filter((o) => o === 'recorded').length, n);
      const seen = new Map<string, string>();
      const worker = async (who: string, l: DeliveryLedger) => {
        for (let empty = 0; empty < 3;) {
          const got = await l.lease(sub, 7);
          if (got.length === 0) {
            empty++;
            continue;
          }
          for (const d of got) {
            assert.equal(seen.has(d.eventId), false, `${d.eventId} leased by ${seen.get(d.eventId)} and ${who}`);
            seen.set(d.eventId, who);
          }
          assert.ok((await l.ackMany(got)).every((o) => o === 'acked'));
        }
      };
      await Promise.all([worker('a', ledger), worker('b', peer.ledger), worker('c', ledger), worker('d', peer.ledger)]);
      assert.equal(seen.size, n);
      assert.deepEqual(await ledger.depth(sub), { [topicA]: 0 });
    });

    test('visibility timeout: an expired lease makes the message leasable again (attempt + 1, the lapse recorded); the old lease is stale', async () => {
      const sub = unique('s');
      const peer = await f.peer();
      await ledger.register(sub, topicA, fastPolicy({ visibilityTimeoutMs: 250 }));
      await ledger.record(sub, [msg(topicA, 'v1')]);
      const tLease = Date.now();
      const first = (await ledger.lease(sub, 1))[0]!;
      assert.equal(first.attempt, 1);
      await whileEarlier(
        tLease,
        250,
        () => peer.ledger.lease(sub, 1),
        (got) => assert.deepEqual(got, [], 'leased, not available before the timeout'),
      );
      const second = await leaseOne(peer.ledger, sub);
      assert.ok(Date.now() - tLease >= 250, 'not leased again before the visibility timeout');
      assert.equal(second.eventId, 'v1');
      assert.equal(second.attempt, 2);
      assert.notEqual(second.leaseToken, first.leaseToken);
      assert.equal(second.firstReceivedAt, first.firstReceivedAt);
      assert.equal(second.errors.length, 1);
      assert.equal(second.errors[0]!.attempt, 1);
      assert.match(second.errors[0]!.message, /visibility timeout expired/);
      assert.ok(!Number.isNaN(Date.parse(second.errors[0]!.at)));
      assert.equal(await ledger.ack(first), 'stale', 'ack with the lapsed lease');
      assert.equal(await ledger.nack(first, 'late'), 'stale', 'nack with the lapsed lease');
      assert.equal(await ledger.ack(second), 'acked');
      assert.equal(await ledger.isProcessed(sub, topicA, 'v1'), true);
    });

    test('an expired but not yet re-leased lease is no longer live: ack and nack are refused', async () => {
      const sub = unique('s');
      await ledger.register(sub, topicA, fastPolicy({ visibilityTimeoutMs: 60 }));
      await ledger.record(sub, [msg(topicA, 'late')]);
      const d = (await ledger.lease(sub, 1))[0]!;
      await clockPast(d.leaseExpiresAt, 'the 60 ms lease to expire');
      assert.equal(await ledger.ack(d), 'stale');
      assert.equal(await ledger.nack(d, 'x'), 'stale');
      await ledger.register(sub, topicA, fastPolicy({ visibilityTimeoutMs: 5_000 })); // room to ack the next lease
      const again = await leaseOne(ledger, sub);
      assert.equal(again.attempt, 2);
      assert.equal(await ledger.ack(again), 'acked');
    });

    test('a lease that lapses on the last attempt dead-letters the message with a visibility-timeout error', async () => {
      const sub = unique('s');
      await ledger.register(sub, topicA, fastPolicy({ maxAttempts: 2, visibilityTimeoutMs: 250 }));
      await ledger.record(sub, [msg(topicA, 'hang')]);
      const d1 = (await ledger.lease(sub, 1))[0]!;
      assert.equal(await ledger.nack(d1, 'boom'), 'retry-scheduled');
      const d2 = await leaseOne(ledger, sub);
      assert.equal(d2.attempt, 2);
      await clockPast(d2.leaseExpiresAt, 'the last lease to lapse');
      assert.deepEqual(await ledger.lease(sub, 5), [], 'not leased a third time');
      const entries = (await f.deadLetters.list(topicA)).filter((e) => e.subscriber === sub);
      assert.equal(entries.length, 1);
      const e = entries[0]!;
      assert.equal(e.id, 'hang');
      assert.equal(e.reason, 'visibility_timeout');
      assert.equal(e.attempts, 2);
      assert.deepEqual(
        e.errors.map((x) => [x.attempt, x.message.replace(/ \(.*/, '')]),
        [
          [1, 'boom'],
          [2, 'visibility timeout expired'],
        ],
      );
      assert.deepEqual(await ledger.depth(sub), { [topicA]: 0 });
      await f.deadLetters.remove(topicA, ['hang'], sub);
    });

    test('nack schedules a retry after the backoff: not leasable before it elapses', async () => {
      const sub = unique('s');
      await ledger.register(
        sub,
        topicA,
        fastPolicy({ maxAttempts: 5, backoff: { initialMs: 250, maxMs: 1_000, multiplier: 2, jitter: 0 } }),
      );
      await ledger.record(sub, [msg(topicA, 'r1')]);
      const d1 = (await ledger.lease(sub, 1))[0]!;
      const t0 = Date.now();
      assert.equal(await ledger.nack(d1, 'db down'), 'retry-scheduled');
      assert.equal(await ledger.ack(d1), 'stale', 'a nacked lease is over');
      await whileEarlier(
        t0,
        250,
        () => ledger.lease(sub, 1),
        (got) => assert.deepEqual(got, [], 'not due yet'),
      );
      assert.deepEqual(await ledger.depth(sub), { [topicA]: 1 }, 'scheduled messages count in depth');
      // Polls from now on: the first lease that returns it must come after the backoff.
      const d2 = await leaseOne(ledger, sub);
      const waited = Date.now() - t0;
      assert.ok(waited >= 240, `leased again after ${waited} ms, before the 250 ms backoff`);
      assert.equal(d2.attempt, 2);
      assert.deepEqual(
        d2.errors.map((e) => [e.attempt, e.message]),
        [[1, 'db down']],
      );
      // The second failure doubles the delay (500 ms).
      const t1 = Date.now();
      assert.equal(await ledger.nack(d2, 'still down'), 'retry-scheduled');
      await whileEarlier(
        t1,
        500,
        () => ledger.lease(sub, 1),
        (got) => assert.deepEqual(got, [], 'the second backoff is longer'),
      );
      const d3 = await leaseOne(ledger, sub);
      assert.ok(Date.now() - t1 >= 490, `second backoff was ${Date.now() - t1} ms`);
      assert.equal(d3.attempt, 3);
      assert.equal(d3.errors.length, 2);
      assert.equal(await ledger.ack(d3), 'acked');
    });

    test('backoff with jitter stays within [d·(1−jitter), d] and grows exponentially to maxMs', async () => {
      const b = { initialMs: 100, maxMs: 1_000, multiplier: 2, jitter: 0.5 };
      const expected = [100, 200, 400, 800, 1_000, 1_000];
      expected.forEach((d, i) => {
        assert.equal(backoffDelayMs(b, i + 1, 0), d);
        for (let k = 0; k < 50; k++) {
          const v = backoffDelayMs(b, i + 1, Math.random());
          assert.ok(v >= d * 0.5 - 1 && v <= d, `attempt ${i + 1}: ${v} outside [${d * 0.5}, ${d}]`);
        }
      });
      // Through the ledger: with jitter the retry still waits at least d·(1−jitter).
      const sub = unique('s');
      await ledger.register(sub, topicA, fastPolicy({ backoff: { initialMs: 200, maxMs: 200, multiplier: 2, jitter: 0.5 } }));
      await ledger.record(sub, [msg(topicA, 'j1')]);
      const d1 = (await ledger.lease(sub, 1))[0]!;
      const t0 = Date.now();
      await ledger.nack(d1, 'x');
      assert.deepEqual(await ledger.lease(sub, 1), []);
      const d2 = await leaseOne(ledger, sub);
      const waited = Date.now() - t0;
      assert.ok(waited >= 90 && waited < 1_000, `waited ${waited} ms for a 100–200 ms backoff`);
      await ledger.ack(d2);
    });

    test('max_attempts: exactly one DLQ entry with every error, subscriber, attempts, first and last failure', async () => {
      const sub = unique('s');
      await ledger.register(sub, topicA, fastPolicy({ maxAttempts: 3 }));
      const body = JSON.stringify({ event_id: 'dead1', payload: { note: 'quotes " and \\ and ünïcødé' } });
      await ledger.record(sub, [msg(topicA, 'dead1', body)]);
      const outcomes: string[] = [];
      for (let i = 1; i <= 3; i++) {
        const d = await leaseOne(ledger, sub);
        assert.equal(d.attempt, i);
        assert.equal(d.errors.length, i - 1);
        outcomes.push(await ledger.nack(d, `failure ${i}`));
      }
      assert.deepEqual(outcomes, ['retry-scheduled', 'retry-scheduled', 'dead-lettered']);
      assert.deepEqual(await ledger.lease(sub, 10), []);
      assert.deepEqual(await ledger.depth(sub), { [topicA]: 0 });
      assert.equal(await ledger.isProcessed(sub, topicA, 'dead1'), false);

      const entries = (await f.deadLetters.list(topicA)).filter((e) => e.subscriber === sub);
      assert.equal(entries.length, 1);
      const e = entries[0]!;
      assert.equal(e.id, 'dead1');
      assert.equal(e.topic, topicA);
      assert.equal(e.subscriber, sub);
      assert.equal(e.body, body);
      assert.equal(e.reason, 'max_attempts');
      assert.equal(e.attempts, 3);
      assert.deepEqual(
        e.errors.map((x) => [x.attempt, x.message]),
        [
          [1, 'failure 1'],
          [2, 'failure 2'],
          [3, 'failure 3'],
        ],
      );
      for (const x of e.errors) assert.match(x.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.equal(e.firstFailureAt, e.errors[0]!.at);
      assert.equal(e.lastFailureAt, e.errors[2]!.at);
      assert.ok(Date.parse(e.firstFailureAt) <= Date.parse(e.lastFailureAt));
      assert.ok(Date.parse(e.deadLetteredAt) >= Date.parse(e.lastFailureAt));
      assert.ok(Math.abs(Date.parse(e.deadLetteredAt) - Date.now()) < 5_000, 'timestamps are real times');
      assert.deepEqual(await f.deadLetters.get(topicA, 'dead1', sub), e);
      await f.deadLetters.remove(topicA, ['dead1'], sub);
    });

    test('breaker: opens at the threshold; while open its topic waits (attempts do not grow) and other topics flow; one probe after openMs; failure re-opens, success closes', async () => {
      const sub = unique('s');
      const peer = await f.peer();
      const policy = fastPolicy({ maxAttempts: 10, breaker: { failureThreshold: 3, windowMs: 10_000, openMs: 500 } });
      await ledger.register(sub, topicA, policy);
      await ledger.register(sub, topicB, policy);
      await ledger.record(
        sub,
        Array.from({ length: 6 }, (_, i) => msg(topicA, `a${i}`)),
      );

      // Two failures: still closed.
      for (const d of await ledger.lease(sub, 2)) await ledger.nack(d, 'downstream 503');
      let st = await f.breakers.status(sub, topicA);
      assert.equal(st.state, 'closed');
      assert.equal(st.failures, 2);
      // The third failure opens it.
      const third = await leaseOne(ledger, sub);
      const openedAt = Date.now();
      assert.equal(await ledger.nack(third, 'downstream 503'), 'retry-scheduled');
      st = await f.breakers.status(sub, topicA);
      assert.equal(st.state, 'open');
      assert.equal(st.failures, 3);
      assert.ok(st.openUntil !== undefined && st.openUntil > Date.now() - 1_000);
      assert.equal((await peer.breakers.status(sub, topicA)).state, 'open', 'another instance sees the same breaker');
      assert.equal((await f.breakers.status(sub, topicB)).state, 'closed');

      // While open: topic A is held back (even past its backoff), topic B flows.
      await ledger.record(sub, [msg(topicB, 'b0'), msg(topicB, 'b1')]);
      await clockPast(openedAt + 4 * policy.backoff.initialMs, 'the retries of a0..a2 to be due (past their backoff)');
      await whileEarlier(
        openedAt,
        500,
        async () => {
          const flowing = await ledger.lease(sub, 20);
          await ledger.ackMany(flowing);
          return flowing;
        },
        (flowing) =>
          assert.deepEqual(
            flowing.map((d) => d.topic),
            [topicB, topicB],
          ),
      );
      await whileEarlier(
        openedAt,
        500,
        () => peer.ledger.lease(sub, 20),
        (got) => assert.deepEqual(got, []),
      );
      await whileEarlier(
        openedAt,
        500,
        () => ledger.depth(sub),
        (depth) => assert.deepEqual(depth, { [topicA]: 6, [topicB]: 0 }, 'held, not lost'),
      );

      // Half-open after openMs: exactly one probe, whichever instance asks first.
      await breakerState(f.breakers, sub, topicA, 'half-open');
      assert.ok(Date.now() - openedAt >= 500, `half-open ${Date.now() - openedAt} ms after opening, before openMs`);
      const probe = await peer.ledger.lease(sub, 20);
      assert.equal(probe.length, 1, 'one probe');
      assert.equal(probe[0]!.topic, topicA);
      assert.deepEqual(await ledger.lease(sub, 20), [], 'no second probe while the first is out');
      // The probe fails: open again.
      const reopenedAt = Date.now();
      assert.equal(await peer.ledger.nack(probe[0]!, 'still 503'), 'retry-scheduled');
      await whileEarlier(
        reopenedAt,
        500,
        () => f.breakers.status(sub, topicA),
        (s) => assert.equal(s.state, 'open'),
      );
      await whileEarlier(
        reopenedAt,
        500,
        () => ledger.lease(sub, 20),
        (got) => assert.deepEqual(got, []),
      );

      // The next probe succeeds: closed, the window cleared, everything flows.
      await breakerState(f.breakers, sub, topicA, 'half-open');
      assert.ok(Date.now() - reopenedAt >= 500, `half-open again ${Date.now() - reopenedAt} ms after re-opening`);
      const probe2 = await leaseUntil(ledger, sub, 20, (got) => got.length > 0);
      assert.equal(probe2.length, 1);
      assert.equal(await ledger.ack(probe2[0]!), 'acked');
      st = await peer.breakers.status(sub, topicA);
      assert.equal(st.state, 'closed');
      assert.equal(st.failures, 0);
      assert.equal(st.openUntil, undefined);
      const restAll = await leaseUntil(ledger, sub, 20, (got) => got.length === 5);
      // Attempts did not grow while the breaker held them: a0..a2 failed once before it opened, the
      // failed probe (the oldest due, a3) once; a5 was never attempted. Each is now on its next attempt.
      assert.equal(probe[0]!.eventId, 'a3');
      assert.equal(probe2[0]!.eventId, 'a4');
      assert.deepEqual(restAll.map((d) => `${d.eventId}#${d.attempt}`).sort(), ['a0#2', 'a1#2', 'a2#2', 'a3#2', 'a5#1']);
      await ledger.ackMany(restAll);
      const listed = await f.breakers.list();
      assert.ok(listed.some((b) => b.subscriber === sub && b.topic === topicA && b.state === 'closed'));
      assert.ok(listed.some((b) => b.subscriber === sub && b.topic === topicB));
    });

    test('breaker: a probe whose lease lapses re-opens it; reset closes it', async () => {
      const sub = unique('s');
      await ledger.register(
        sub,
        topicA,
        fastPolicy({ maxAttempts: 10, visibilityTimeoutMs: 250, breaker: { failureThreshold: 1, windowMs: 10_000, openMs: 100 } }),
      );
      await ledger.record(sub, [msg(topicA, 'p1'), msg(topicA, 'p2')]);
      const [d] = await ledger.lease(sub, 1);
      await ledger.nack(d!, 'x');
      assert.equal((await f.breakers.status(sub, topicA)).state, 'open');
      const probe = await leaseOne(ledger, sub);
      assert.equal((await f.breakers.status(sub, topicA)).state, 'half-open');
      await clockPast(probe.leaseExpiresAt, 'the probe lease to lapse');
      // The lapse is noticed by the next lease: the breaker is open again, nothing leased.
      assert.deepEqual(await ledger.lease(sub, 5), []);
      assert.equal((await f.breakers.status(sub, topicA)).state, 'open');
      assert.equal(await ledger.ack(probe), 'stale');
      await f.breakers.reset(sub, topicA);
      const st = await f.breakers.status(sub, topicA);
      assert.equal(st.state, 'closed');
      assert.equal(st.failures, 0);
      const all = await leaseUntil(ledger, sub, 5, (got) => got.length === 2);
      await ledger.ackMany(all);
    });

    test('breaker: failures outside the rolling window do not count', async () => {
      const sub = unique('s');
      await ledger.register(
        sub,
        topicA,
        fastPolicy({
          maxAttempts: 10,
          backoff: { initialMs: 0, maxMs: 0, multiplier: 1, jitter: 0 },
          breaker: { failureThreshold: 2, windowMs: 600, openMs: 10_000 },
        }),
      );
      await ledger.record(sub, [msg(topicA, 'w1'), msg(topicA, 'w2')]);
      const [w1] = await ledger.lease(sub, 1);
      const failedAt = Date.now();
      await ledger.nack(w1!, 'one');
      assert.equal((await f.breakers.status(sub, topicA)).failures, 1);
      await waitFor(async () => (await f.breakers.status(sub, topicA)).failures === 0, {
        intervalMs: 10,
        message: 'the failure to leave the 600 ms window',
      });
      assert.ok(Date.now() - failedAt >= 600, `the failure left the window after ${Date.now() - failedAt} ms`);
      const next = await ledger.lease(sub, 2);
      assert.equal(next.length, 2);
      await ledger.nack(
        next.find((d) => d.eventId === 'w1')!,
        'two',
      );
      const st = await f.breakers.status(sub, topicA);
      assert.equal(st.state, 'closed');
      assert.equal(st.failures, 1);
      await ledger.nack(
        next.find((d) => d.eventId === 'w2')!,
        'three',
      );
      assert.equal((await f.breakers.status(sub, topicA)).state, 'open');
      assert.equal((await f.breakers.status(unique('nobody'), topicA)).state, 'closed', 'an unknown breaker is closed');
    });

    test('breaker: one message failing again and again counts once (poison is not an outage); distinct messages failing open it', async () => {
      const sub = unique('s');
      await ledger.register(
        sub,
        topicA,
        fastPolicy({
          maxAttempts: 5,
          backoff: { initialMs: 0, maxMs: 0, multiplier: 1, jitter: 0 },
          breaker: { failureThreshold: 2, windowMs: 10_000, openMs: 10_000 },
        }),
      );
      await ledger.record(sub, [msg(topicA, 'poison')]);
      for (let i = 1; i <= 5; i++) {
        const d = await leaseOne(ledger, sub);
        assert.equal(d.attempt, i);
        assert.equal(await ledger.nack(d, `boom ${i}`), i < 5 ? 'retry-scheduled' : 'dead-lettered');
        assert.equal((await f.breakers.status(sub, topicA)).state, 'closed', `still closed after ${i} failures of one message`);
      }
      assert.equal((await f.breakers.status(sub, topicA)).failures, 1);
      // A real outage: two different messages fail.
      await ledger.record(sub, [msg(topicA, 'o1'), msg(topicA, 'o2')]);
      for (const d of await ledger.lease(sub, 2)) await ledger.nack(d, 'database away');
      assert.equal((await f.breakers.status(sub, topicA)).state, 'open');
    });

    test('permanent failure: DLQ at once with reason and code, no retry, no breaker failure; dead-letter notices for every cause', async () => {
      const sub = unique('s');
      const notices: string[] = [];
      assert.equal(typeof f.deadLetters.onDeadLetter, 'function', 'the adapter announces dead letters');
      const stop = f.deadLetters.onDeadLetter!((n) => {
        if (n.subscriber === sub) notices.push(`${n.reason}:${n.id}`);
      });
      try {
        await ledger.register(
          sub,
          topicA,
          fastPolicy({
            maxAttempts: 2,
            visibilityTimeoutMs: 200,
            backoff: { initialMs: 0, maxMs: 0, multiplier: 1, jitter: 0 },
            breaker: { failureThreshold: 1, windowMs: 10_000, openMs: 10_000 },
          }),
        );
        await ledger.record(sub, [msg(topicA, 'perm')]);
        const d = await leaseOne(ledger, sub);
        assert.equal(
          await ledger.nack(d, 'permanent error (no_such_booking): booking bk-9 does not exist', {
            permanent: true,
            code: 'no_such_booking',
          }),
          'dead-lettered',
        );
        const st = await f.breakers.status(sub, topicA);
        assert.equal(st.state, 'closed', 'threshold 1, yet a permanent error opens nothing');
        assert.equal(st.failures, 0);
        const e = await f.deadLetters.get(topicA, 'perm', sub);
        assert.equal(e?.reason, 'permanent_error');
        assert.equal(e?.code, 'no_such_booking');
        assert.equal(e?.attempts, 1);
        assert.equal(e?.errors.length, 1);
        assert.deepEqual(await ledger.depth(sub), { [topicA]: 0 });
        assert.equal(await ledger.nack(d, 'again', { permanent: true }), 'stale');

        // The other causes: a lapsed last lease, max attempts, and add (once per new entry).
        await ledger.record(sub, [msg(topicA, 'lapse')]);
        const l1 = await leaseOne(ledger, sub);
        await clockPast(l1.leaseExpiresAt, 'the first lease to lapse');
        const l2 = await leaseOne(ledger, sub);
        assert.equal(l2.eventId, l1.eventId);
        await clockPast(l2.leaseExpiresAt, 'the last lease to lapse');
        assert.deepEqual(await ledger.lease(sub, 5), []);
        await f.breakers.reset(sub, topicA);
        await ledger.record(sub, [msg(topicA, 'max')]);
        await ledger.nack(await leaseOne(ledger, sub), 'x');
        await f.breakers.reset(sub, topicA); // threshold 1: the transient failure opened it
        await ledger.nack(await leaseOne(ledger, sub), 'y');
        const now = new Date().toISOString();
        const raw = {
          id: 'invalid-1',
          topic: topicA,
          subscriber: sub,
          body: 'garbage',
          reason: 'invalid_envelope' as const,
          attempts: 0,
          errors: [],
          firstFailureAt: now,
          lastFailureAt: now,
          deadLetteredAt: now,
        };
        await f.deadLetters.add(raw);
        await f.deadLetters.add(raw); // the same bytes again: the same entry, not a second dead letter
        assert.deepEqual(notices, ['permanent_error:perm', 'visibility_timeout:lapse', 'max_attempts:max', 'invalid_envelope:invalid-1']);
      } finally {
        stop();
      }
    });

    test('half-open probe: a never-attempted message is chosen over one that already failed; a permanently failed probe frees the slot', async () => {
      const sub = unique('s');
      await ledger.register(
        sub,
        topicA,
        fastPolicy({
          maxAttempts: 10,
          backoff: { initialMs: 0, maxMs: 0, multiplier: 1, jitter: 0 },
          breaker: { failureThreshold: 2, windowMs: 10_000, openMs: 150 },
        }),
      );
      await ledger.record(sub, [msg(topicA, 'f1'), msg(topicA, 'f2')]);
      for (const d of await ledger.lease(sub, 2)) await ledger.nack(d, 'boom');
      assert.equal((await f.breakers.status(sub, topicA)).state, 'open');
      // Recorded after the failures: due later than f1 and f2, but never attempted.
      await nextMillisecond();
      await ledger.record(sub, [msg(topicA, 'fresh1'), msg(topicA, 'fresh2')]);
      await breakerState(f.breakers, sub, topicA, 'half-open');
      const probe = await leaseOne(ledger, sub);
      assert.equal(probe.eventId, 'fresh1', 'the oldest never-attempted message is the probe');
      assert.equal(probe.attempt, 1);
      assert.deepEqual(await ledger.lease(sub, 5), [], 'one probe at a time');
      // The probe turns out to be poison: dead-lettered, the breaker stays half-open, the next probe goes.
      assert.equal(await ledger.nack(probe, 'bad', { permanent: true, code: 'bad' }), 'dead-lettered');
      assert.equal((await f.breakers.status(sub, topicA)).state, 'half-open');
      const probe2 = await leaseOne(ledger, sub);
      assert.equal(probe2.eventId, 'fresh2');
      assert.equal(await ledger.ack(probe2), 'acked');
      assert.equal((await f.breakers.status(sub, topicA)).state, 'closed');
      const rest = await leaseUntil(ledger, sub, 5, (got) => got.length === 2);
      assert.deepEqual(rest.map((d) => d.eventId).sort(), ['f1', 'f2']);
      await ledger.ackMany(rest);
      // Only failed messages wait: one of them is the probe.
      await ledger.record(sub, [msg(topicA, 'g1'), msg(topicA, 'g2')]);
      for (const d of await ledger.lease(sub, 2)) await ledger.nack(d, 'boom');
      await breakerState(f.breakers, sub, topicA, 'half-open');
      const probe3 = await leaseOne(ledger, sub);
      assert.ok(['g1', 'g2'].includes(probe3.eventId));
      assert.equal(probe3.attempt, 2);
      await ledger.ack(probe3);
      await ledger.ackMany(await leaseUntil(ledger, sub, 5, (got) => got.length === 1));
    });

    test('DLQ bodies: add keeps a bounded prefix with the full size and SHA-256; ledger-written entries keep the envelope whole', async () => {
      const sub = unique('s');
      const t = `albergue.test.v1.${unique('B')}`;
      const now = new Date().toISOString();
      const big = 'é'.repeat(10_000); // 20,000 bytes of 2-byte characters
      await f.deadLetters.add({
        id: 'big',
        topic: t,
        subscriber: sub,
        body: big,
        reason: 'invalid_envelope',
        attempts: 0,
        errors: [],
        firstFailureAt: now,
        lastFailureAt: now,
        deadLetteredAt: now,
      });
      const e = await f.deadLetters.get(t, 'big', sub);
      assert.ok(e);
      assert.equal(e.bodyTruncated, true);
      assert.equal(e.bodyBytes, 20_000);
      assert.equal(e.bodySha256, createHash('sha256').update(big).digest('hex'));
      assert.ok(Buffer.byteLength(e.body) <= 4_096, `prefix of ${Buffer.byteLength(e.body)} bytes`);
      assert.ok(big.startsWith(e.body) && e.body.length === 2_048, 'cut on a character boundary');
      assert.deepEqual(
        (await f.deadLetters.list(t)).map((x) => x.body),
        [e.body],
        'list returns the prefix only',
      );
      // Bytes in, bytes measured.
      const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x41]);
      await f.deadLetters.add({
        id: 'bin',
        topic: t,
        subscriber: sub,
        body: bytes,
        reason: 'invalid_envelope',
        attempts: 0,
        errors: [],
        firstFailureAt: now,
        lastFailureAt: now,
        deadLetteredAt: now,
      });
      const b = await f.deadLetters.get(t, 'bin', sub);
      assert.equal(b?.bodyBytes, 4);
      assert.equal(b?.bodySha256, createHash('sha256').update(bytes).digest('hex'));
      assert.equal(b?.bodyTruncated, false);
      await f.deadLetters.remove(t);

      const body = JSON.stringify({ event_id: 'whole', pad: 'x'.repeat(6_000) });
      await ledger.register(sub, topicA, fastPolicy({ maxAttempts: 1 }));
      await ledger.record(sub, [msg(topicA, 'whole', body)]);
      await ledger.nack(await leaseOne(ledger, sub), 'boom');
      const w = await f.deadLetters.get(topicA, 'whole', sub);
      assert.equal(w?.body, body);
      assert.equal(w?.bodyBytes, Buffer.byteLength(body));
      assert.equal(w?.bodySha256, createHash('sha256').update(body).digest('hex'));
      assert.equal(w?.bodyTruncated, false);
    });

    test('dead-letter store: add, topics with depth, paged list oldest first, get, remove', async () => {
      const dl = f.deadLetters;
      const t1 = `albergue.test.v1.${unique('T')}`;
      const t2 = `albergue.test.v1.${unique('T')}`;
      const base = Date.parse('2026-01-01T00:00:00.000Z');
      const entry = (topic: string, id: string, subscriber: string, i: number): DeadLetterInput => ({
        id,
        topic,
        subscriber,
        body: `{"n":${i}}`,
        reason: i % 2 ? 'invalid_envelope' : 'max_attempts',
        attempts: i,
        errors: [{ attempt: i, at: new Date(base + i).toISOString(), message: `err ${i}` }],
        firstFailureAt: new Date(base + i).toISOString(),
        lastFailureAt: new Date(base + i).toISOString(),
        deadLetteredAt: new Date(base + 1_000 + i).toISOString(),
      });
      // Added out of order: listed by deadLetteredAt.
      for (const i of [3, 1, 4, 0, 2]) await dl.add(entry(t1, `id${i}`, 'svc', i));
      await dl.add(entry(t1, 'id2', 'other', 5)); // the same event dead-lettered by another subscriber
      await dl.add(entry(t2, 'z', 'svc', 0));

      const topics = (await dl.topics()).filter((t) => t.topic === t1 || t.topic === t2);
      assert.deepEqual(
        topics,
        [
          { topic: t1, depth: 6 },
          { topic: t2, depth: 1 },
        ].sort((a, b) => (a.topic < b.topic ? -1 : 1)),
      );
      const all = await dl.list(t1);
      assert.deepEqual(
        all.map((e) => `${e.subscriber}/${e.id}`),
        ['svc/id0', 'svc/id1', 'svc/id2', 'svc/id3', 'svc/id4', 'other/id2'],
      );
      assert.deepEqual(all[1], { ...entry(t1, 'id1', 'svc', 1), ...boundedBody('{"n":1}') });
      assert.deepEqual(
        (await dl.list(t1, { offset: 2, limit: 2 })).map((e) => e.id),
        ['id2', 'id3'],
      );
      assert.deepEqual(await dl.list(t1, { offset: 10 }), []);
      assert.deepEqual(await dl.list('albergue.none.v1.Nothing'), []);

      assert.equal((await dl.get(t1, 'id2'))?.subscriber, 'svc', 'without subscriber: the oldest');
      assert.equal((await dl.get(t1, 'id2', 'other'))?.attempts, 5);
      assert.equal(await dl.get(t1, 'nope'), undefined);
      assert.equal(await dl.get(t1, 'id1', 'other'), undefined);

      // Re-adding the same (subscriber, id) replaces the entry.
      await dl.add({ ...entry(t1, 'id4', 'svc', 4), attempts: 9 });
      assert.equal((await dl.list(t1)).length, 6);
      assert.equal((await dl.get(t1, 'id4', 'svc'))?.attempts, 9);

      assert.equal(await dl.remove(t1, ['id2']), 2, "every subscriber's entry of id2");
      assert.equal(await dl.remove(t1, ['id0', 'missing'], 'other'), 0);
      assert.equal(await dl.remove(t1, ['id0'], 'svc'), 1);
      assert.deepEqual(
        (await dl.list(t1)).map((e) => e.id),
        ['id1', 'id3', 'id4'],
      );
      assert.equal(await dl.remove(t1), 3);
      assert.deepEqual(await dl.list(t1), []);
      assert.equal(
        (await dl.topics()).some((t) => t.topic === t1),
        false,
        'an emptied topic is not listed',
      );
      assert.equal(await dl.remove(t1), 0);
      assert.equal(await dl.remove(t2, undefined, 'svc'), 1);
      assert.equal(
        (await dl.topics()).some((t) => t.topic === t2),
        false,
      );
    });

    test('deliveries: what the ledger knows of each event per subscriber (pending, leased, processed, DLQ, unknown)', async () => {
      const sub = unique('s');
      const other = unique('s');
      await ledger.register(
        sub,
        topicA,
        fastPolicy({ maxAttempts: 2, backoff: { initialMs: 60_000, maxMs: 60_000, multiplier: 2, jitter: 0 }, dedupWindowMs: 200_000 }),
      );
      assert.deepEqual(await ledger.deliveries([]), []);
      await ledger.record(sub, [msg(topicA, 'd1'), msg(topicA, 'd2'), msg(topicA, 'd3'), msg(topicA, 'd4')]);
      const leased = await ledger.lease(sub, 10);
      assert.equal(leased.length, 4);
      const by = (id: string) => leased.find((d) => d.eventId === id)!;
      const t0 = Date.now();
      assert.equal(await ledger.ack(by('d1')), 'acked');
      const t1 = Date.now();
      assert.equal(await ledger.nack(by('d2'), 'downstream timeout'), 'retry-scheduled');
      assert.equal(await ledger.nack(by('d4'), 'poison', { permanent: true, code: 'bad_thing' }), 'dead-lettered');
      await ledger.record(sub, [msg(topicA, 'd5')]);
      const q = (subscriber: string, eventId: string) => ({ subscriber, topic: topicA, eventId });
      const facts = await ledger.deliveries([
        q(sub, 'd1'),
        q(sub, 'd2'),
        q(sub, 'd3'),
        q(sub, 'd4'),
        q(sub, 'd5'),
        q(sub, 'nope'),
        q(other, 'd1'),
      ]);
      assert.deepEqual(
        facts.map((f) => [f.eventId, f.subscriber === sub, f.state]),
        [
          ['d1', true, 'processed'],
          ['d2', true, 'pending'],
          ['d3', true, 'leased'],
          ['d4', true, 'dead_lettered'],
          ['d5', true, 'pending'],
          ['nope', true, 'unknown'],
          ['d1', false, 'unknown'],
        ],
      );
      const [d1, d2, d3, d4, d5] = facts as [DeliveryFact, DeliveryFact, DeliveryFact, DeliveryFact, DeliveryFact];
      assert.ok(
        d1.processedAt !== undefined && d1.processedAt >= t0 - 5 && d1.processedAt <= t1 + 5,
        `processedAt ${d1.processedAt} in [${t0}, ${t1}]`,
      );
      assert.equal(d2.attempts, 1);
      assert.equal(d2.maxAttempts, 2);
      assert.deepEqual(
        d2.errors.map((e) => [e.attempt, e.message]),
        [[1, 'downstream timeout']],
      );
      assert.ok(d2.nextAttemptAt !== undefined && d2.nextAttemptAt >= t1 + 59_000, 'the retry is due after its backoff');
      assert.equal(d3.attempts, 1);
      assert.equal(d3.leaseExpiresAt, by('d3').leaseExpiresAt);
      assert.equal(d4.deadLetter?.reason, 'permanent_error');
      assert.equal(d4.deadLetter?.code, 'bad_thing');
      assert.equal(d4.deadLetter?.id, 'd4');
      assert.equal(d4.attempts, 1);
      assert.equal(d4.deadLetter?.errors.length, 1);
      assert.equal(d5.attempts, 0);
      assert.ok(d5.firstReceivedAt !== undefined && d5.nextAttemptAt !== undefined && d5.nextAttemptAt <= Date.now());
      await assert.rejects(ledger.deliveries(Array.from({ length: 1_001 }, (_, i) => q(sub, `x${i}`))), /at most 1000/);
    });

    test('depth and stale acks across subscribers and topics', async () => {
      const sub = unique('s');
      assert.deepEqual(await ledger.depth(sub), {});
      assert.deepEqual(await ledger.lease(sub, 5), []);
      await ledger.register(sub, topicA, fastPolicy());
      assert.deepEqual(await ledger.depth(sub), { [topicA]: 0 });
      await ledger.record(sub, [msg(topicA, 'q1'), msg(topicB, 'q2'), msg(topicB, 'q3')]);
      assert.deepEqual(await ledger.depth(sub), { [topicA]: 1, [topicB]: 2 });
      const got = await ledger.lease(sub, 3);
      const forged: Delivery = { ...got[0]!, leaseToken: 'forged' };
      assert.equal(await ledger.ack(forged), 'stale');
      assert.equal(await ledger.nack(forged, 'x'), 'stale');
      assert.equal(await ledger.ack({ ...got[0]!, subscriber: unique('s') }), 'stale');
      assert.deepEqual(await ledger.ackMany([got[0]!, got[0]!, got[1]!]), ['acked', 'stale', 'acked']);
      const expected: Record<string, number> = { [topicA]: 0, [topicB]: 0 };
      expected[got[2]!.topic]! += 1;
      assert.deepEqual(await ledger.depth(sub), expected);
      await ledger.ack(got[2]!);
      assert.deepEqual(await ledger.depth(sub), { [topicA]: 0, [topicB]: 0 });
    });
  });
}
