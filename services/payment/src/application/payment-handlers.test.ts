// Payment's application on real Postgres (127.0.0.1:5432; PG_ADMIN_URL overrides): the handlers,
// charging through recorded attempts, the simulated card network's durable charges, the recovery
// sweep and refunds. Two PgDatabase pools on one database stand for two instances of the service.
import assert from 'node:assert/strict';
import type { IgnoredDecision } from '@albergue/application';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { EventEnvelope } from '@albergue/events';
import { BookingCancelled, BookingReserved, newEnvelope, newEventId, ReservationExpired, withCorrelation } from '@albergue/events';
import type { SqlDatabase } from '@albergue/outbox';
import { migrate, OUTBOX_MIGRATIONS, PgDatabase } from '@albergue/outbox';
import { PG_ADMIN_URL } from '@albergue/outbox/test-databases';
import { uniqueName, waitFor } from '@albergue/platform/testing';
import { PAYMENT_MIGRATIONS } from '../adapters/postgres/migrations.js';
import { PgPaymentQueries } from '../adapters/postgres/pg-payment-queries.js';
import { PgPaymentRepository } from '../adapters/postgres/pg-payment-repository.js';
import type { SimulatedCardNetworkOptions } from '../adapters/provider/simulated-card-network.js';
import {
  luhnValid,
  signCallback,
  SIMULATED_CARD_NETWORK_MIGRATIONS,
  SimulatedCardNetwork,
  verifyCallback,
} from '../adapters/provider/simulated-card-network.js';
import { chargePayment, DEFAULT_CHECK_AFTER_MS } from './charge-payment.js';
import { closePaymentOnBookingCancelled, closePaymentOnReservationExpired } from './close-payment.js';
import { initiatePaymentOnBookingReserved } from './initiate-payment.js';
import type { PaymentProvider, ProviderSettlement, Refund } from './ports.js';
import { getPaymentOfBooking } from './queries.js';
import { checkDelayMs, DEFAULT_RECONCILE_POLICY, reconcileChargeAttempts } from './reconcile-charges.js';
import { refundBackoffMs, DEFAULT_REFUND_POLICY, refundPendingPayments, retryRefund } from './refund-payment.js';
import { settlePayment } from './settle-payment.js';

let nowMs = Date.parse('2025-05-10T09:00:00.000Z');
const clock = { now: () => new Date(nowMs) };
const advance = (ms: number) => {
  nowMs += ms;
};

let dbName = '';
let admin: PgDatabase;
let db: SqlDatabase; // instance A
let db2: SqlDatabase; // instance B (its own pool on the same database)
let repo: PgPaymentRepository;
let repo2: PgPaymentRepository;
let queries: PgPaymentQueries;

// The network's settlements are delivered when the test says so (manual timers).
let timers: { fn: () => void; ms: number }[] = [];
let deliverFails = false;
let delivered: ProviderSettlement[] = [];
let network: SimulatedCardNetwork;

const deps = () => ({ repo, clock, ids: newEventId, provider: network });

function setup(options: Partial<SimulatedCardNetworkOptions> = {}): void {
  network?.close();
  timers = [];
  delivered = [];
  deliverFails = false;
  network = new SimulatedCardNetwork({
    db,
    now: clock.now,
    latencyMs: 200,
    deliver: async (s) => {
      if (deliverFails) throw new Error('callback endpoint down');
      delivered.push(s);
      const r = await settlePayment(deps(), s);
      if (!r.ok) throw new Error(r.errors[0].reason);
    },
    schedule: (fn, ms) => {
      const t = { fn, ms };
      timers.push(t);
      return () => {
        timers = timers.filter((x) => x !== t);
      };
    },
    ...options,
  });
}

/** Moves the clock past the due timers and runs them (the retries they schedule wait for the next call). */
async function flushOnce(): Promise<void> {
  const due = timers;
  timers = [];
  advance(Math.max(1000, ...due.map((t) => t.ms)));
  for (const t of due) t.fn();
  await network.drain();
}
async function flush(): Promise<void> {
  for (let i = 0; i < 20 && timers.length > 0; i++) await flushOnce();
  assert.equal(timers.length, 0, 'settlements still scheduled after 20 rounds');
}

let flow: ReturnType<typeof bookingFlow>;
function bookingFlow() {
  const booking_id = uniqueName('bk');
  const reserved = newEnvelope(
    BookingReserved,
    {
      booking_id,
      albergue_id: 'alb-1',
      guest: { guest_id: 'g-1', name: 'Ana', email: 'ana@example.org', locale: 'es' },
      check_in: '2025-06-01',
      check_out: '2025-06-03',
      beds: 2,
      total: { amount_minor: 5600, currency: 'EUR' },
      hold_expires_at: '2025-05-10T09:15:00.000Z',
    },
    { causation_id: 'cmd-1' },
  );
  const expired = newEnvelope(
    ReservationExpired,
    { booking_id, albergue_id: 'alb-1', hold_expires_at: '2025-05-10T09:15:00.000Z', expired_at: '2025-05-10T09:16:00.000Z' },
    withCorrelation(reserved),
  );
  const cancelled = newEnvelope(
    BookingCancelled,
    { booking_id, albergue_id: 'alb-1', reason: 'guest_request', cancelled_at: '2025-05-10T09:10:00.000Z' },
    withCorrelation(reserved),
  );
  return { booking_id, reserved, expired, cancelled };
}

async function initiate(): Promise<string> {
  const outcome = await repo.transaction((tx) => initiatePaymentOnBookingReserved(deps(), tx, flow.reserved));
  assert.equal(outcome.status, 'applied');
  const view = await getPaymentOfBooking(queries, flow.booking_id);
  assert.ok(view);
  return view.payment_id;
}

async function outbox(): Promise<EventEnvelope[]> {
  const { rows } = await db.query<{ envelope: EventEnvelope }>('SELECT envelope FROM outbox_events ORDER BY id');
  return rows.map((r) => r.envelope).filter((e) => (e.payload as { booking_id?: string }).booking_id === flow.booking_id);
}
const types = async () => (await outbox()).map((e) => e.event_type);
const attemptsOf = async (paymentId: string) =>
  (
    await db.query<{ attempt_id: string; status: string }>(
      'SELECT attempt_id, status FROM charge_attempts WHERE payment_id = $1 ORDER BY created_at, attempt_id',
      [paymentId],
    )
  ).rows;

before(async () => {
  dbName = uniqueName('payment_app').toLowerCase();
  admin = new PgDatabase(PG_ADMIN_URL, { max: 1 });
  await admin.exec(`CREATE DATABASE ${dbName}`);
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${dbName}`;
  db = new PgDatabase(url.toString());
  db2 = new PgDatabase(url.toString());
  await migrate(db, [...OUTBOX_MIGRATIONS, ...PAYMENT_MIGRATIONS, ...SIMULATED_CARD_NETWORK_MIGRATIONS]);
  repo = new PgPaymentRepository(db);
  repo2 = new PgPaymentRepository(db2);
  queries = new PgPaymentQueries(db);
});

after(async () => {
  network?.close();
  await db?.close();
  await db2?.close();
  await admin?.exec(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin?.close();
});

beforeEach(async () => {
  await db.exec(
    'TRUNCATE payments, payment_views, outbox_events, inbox_events, charge_attempts, refunds, sim_card_network_charges, sim_card_network_cancellations',
  );
  nowMs = Date.parse('2025-05-10T09:00:00.000Z');
  flow = bookingFlow();
  setup();
});

describe('payment application on Postgres', () => {
  test('BookingReserved → PaymentInitiated in the booking flow; a redelivery starts no second payment', async () => {
    await initiate();
    const [e] = await outbox();
    assert.equal(e?.event_type, 'PaymentInitiated');
    assert.equal(e.correlation_id, flow.reserved.correlation_id);
    assert.equal(e.causation_id, flow.reserved.event_id);
    const again = await repo.transaction((tx) => initiatePaymentOnBookingReserved(deps(), tx, flow.reserved));
    assert.equal(again.status, 'ignored');
    assert.equal((await outbox()).length, 1);
  });

  test('pay → the attempt is recorded before the provider is called, its id is the idempotency key → callback → PaymentConfirmed once', async () => {
    const paymentId = await initiate();
    let seenByProvider: { key: string; attempts: { attempt_id: string; status: string }[] } | undefined;
    const spy: Pick<PaymentProvider, 'charge'> = {
      charge: async (req) => {
        // Another connection sees the attempt: it was committed before this call.
        seenByProvider = { key: req.idempotency_key, attempts: await attemptsOf(paymentId) };
        return network.charge(req);
      },
    };
    const charged = await chargePayment({ ...deps(), provider: spy }, { payment_id: paymentId, payment_method: '4242 4242 4242 4242' });
    assert.ok(charged.ok, JSON.stringify(charged));
    assert.deepEqual(seenByProvider, {
      key: charged.value.attempt_id,
      attempts: [{ attempt_id: charged.value.attempt_id, status: 'pending' }],
    });
    assert.match(charged.value.attempt_id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/, 'a UUIDv7');
    assert.deepEqual(await attemptsOf(paymentId), [{ attempt_id: charged.value.attempt_id, status: 'accepted' }]);
    await flush();
    assert.deepEqual(await types(), ['PaymentInitiated', 'PaymentConfirmed']);
    assert.deepEqual(await attemptsOf(paymentId), [{ attempt_id: charged.value.attempt_id, status: 'succeeded' }]);
    const [initiated, confirmed] = await outbox();
    assert.ok(confirmed && initiated);
    assert.equal(confirmed.causation_id, initiated.event_id);
    assert.equal((confirmed.payload as { provider_reference: string }).provider_reference, charged.value.provider_reference);
    const reported: IgnoredDecision[] = [];
    const again = await settlePayment({ ...deps(), decisions: { ignored: (r) => reported.push(r) } }, delivered[0]!);
    assert.ok(again.ok);
    assert.equal(again.events.length, 0);
    assert.deepEqual(
      reported.map((r) => [r.decision, r.ignored.code, r.refs?.payment_id]),
      [['SettlePayment', 'already_settled', paymentId]],
      'the repeated settlement is reported',
    );
    const twice = await chargePayment(deps(), { payment_id: paymentId, payment_method: '4242424242424242' });
    assert.ok(!twice.ok);
    assert.equal(twice.errors[0].code, 'payment_not_open');
  });

  test('20 rounds: one charge fired at two instances, 10 requests each, at once → one attempt, one provider charge, one PaymentConfirmed; the others get the same answer or charge_in_progress', async () => {
    for (let round = 0; round < 20; round++) {
      flow = bookingFlow();
      const paymentId = await initiate();
      // Each instance charges through its own pool (the network is shared, like the real one).
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          chargePayment(
            { repo: i % 2 === 0 ? repo : repo2, clock, ids: newEventId, provider: network },
            { payment_id: paymentId, payment_method: '4242424242424242' },
          ),
        ),
      );
      const accepted = results.flatMap((r) => (r.ok ? [r.value] : []));
      const refused = results.flatMap((r) => (r.ok ? [] : r.errors.map((e) => e.code)));
      assert.ok(accepted.length >= 1, `round ${round}: nobody was accepted: ${JSON.stringify(refused)}`);
      assert.equal(new Set(accepted.map((a) => a.provider_reference)).size, 1, `round ${round}: one provider reference`);
      assert.equal(new Set(accepted.map((a) => a.attempt_id)).size, 1);
      assert.ok(
        refused.every((c) => c === 'charge_in_progress'),
        `round ${round}: ${JSON.stringify(refused)}`,
      );
      assert.equal((await network.chargesOf(paymentId)).length, 1, `round ${round}: one provider charge`);
      assert.equal((await attemptsOf(paymentId)).length, 1);
      await flush();
      assert.deepEqual(await types(), ['PaymentInitiated', 'PaymentConfirmed'], `round ${round}`);
    }
  });

  for (const [card, code] of [
    ['4000000000000002', 'card_declined'],
    ['4000000000009995', 'insufficient_funds'],
  ] as const) {
    test(`card ${card} → PaymentFailed(${code}); the attempt is closed as failed`, async () => {
      const paymentId = await initiate();
      assert.ok((await chargePayment(deps(), { payment_id: paymentId, payment_method: card })).ok);
      await flush();
      assert.deepEqual(await types(), ['PaymentInitiated', 'PaymentFailed']);
      assert.equal(((await outbox())[1]?.payload as { reason_code: string }).reason_code, code);
      assert.deepEqual(
        (await attemptsOf(paymentId)).map((a) => a.status),
        ['failed'],
      );
    });
  }

  test('failure rate 1 → every charge fails with processing_error', async () => {
    setup({ failureRate: 1, random: () => 0.5 });
    const paymentId = await initiate();
    await chargePayment(deps(), { payment_id: paymentId, payment_method: '4242424242424242' });
    await flush();
    assert.equal(((await outbox())[1]?.payload as { reason_code: string }).reason_code, 'processing_error');
  });

  test('a malformed card number is refused, nothing charged, the attempt closed as rejected; the guest can try again', async () => {
    const paymentId = await initiate();
    const r = await chargePayment(deps(), { payment_id: paymentId, payment_method: '4242424242424241' });
    assert.ok(!r.ok);
    assert.equal(r.errors[0].code, 'payment_method_rejected');
    assert.deepEqual(
      (await attemptsOf(paymentId)).map((a) => a.status),
      ['rejected'],
    );
    assert.deepEqual(await network.chargesOf(paymentId), []);
    assert.ok((await chargePayment(deps(), { payment_id: paymentId, payment_method: '4242424242424242' })).ok);
  });

  test('booking expired before payment → voided; paying is refused', async () => {
    const paymentId = await initiate();
    const outcome = await repo.transaction((tx) => closePaymentOnReservationExpired(deps(), tx, flow.expired));
    assert.equal(outcome.status, 'applied');
    const r = await chargePayment(deps(), { payment_id: paymentId, payment_method: '4242424242424242' });
    assert.ok(!r.ok);
    assert.match(r.errors[0].reason, /expired/);
    assert.deepEqual(await types(), ['PaymentInitiated']);
    assert.deepEqual(await attemptsOf(paymentId), []);
  });

  test('booking cancelled while the charge is in flight → the network voids it; no PaymentConfirmed, nothing to refund', async () => {
    const paymentId = await initiate();
    await chargePayment(deps(), { payment_id: paymentId, payment_method: '4242424242424242' });
    await repo.transaction((tx) => closePaymentOnBookingCancelled(deps(), tx, flow.cancelled));
    // The open attempt is due at once: the sweep cancels the charge at the network (outside the
    // inbox transaction), then looks it up: failed, payment_cancelled.
    assert.equal((await reconcileChargeAttempts({ repo, clock, provider: network })).settled, 1);
    assert.deepEqual(
      (await attemptsOf(paymentId)).map((a) => a.status),
      ['failed'],
    );
    await flush();
    assert.equal(delivered[0]?.outcome.status, 'failed');
    assert.deepEqual(await types(), ['PaymentInitiated']);
    assert.equal((await getPaymentOfBooking(queries, flow.booking_id))?.status, 'voided');
    assert.deepEqual(await repo.listRefunds('pending', 10), []);
  });

  test('crash after the attempt was recorded, before the answer: the recovery sweep asks the network by key and the payment settles by itself', async () => {
    const paymentId = await initiate();
    // The network takes the charge, then the merchant never hears back (its process died).
    const crashing: Pick<PaymentProvider, 'charge'> = {
      charge: async (req) => {
        await network.charge(req);
        throw new Error('process killed');
      },
    };
    deliverFails = true; // and the callback does not get through either
    const r = await chargePayment({ ...deps(), provider: crashing }, { payment_id: paymentId, payment_method: '4242424242424242' });
    assert.ok(!r.ok);
    assert.equal(r.errors[0].code, 'provider_unavailable');
    assert.deepEqual(
      (await attemptsOf(paymentId)).map((a) => a.status),
      ['pending'],
    );
    // The guest pays again meanwhile: refused, nothing charged twice.
    const again = await chargePayment(deps(), { payment_id: paymentId, payment_method: '4242424242424242' });
    assert.ok(!again.ok);
    assert.equal(again.errors[0].code, 'charge_in_progress');
    network.close(); // the network's callback timers died with the process in this story
    setup();
    const rdeps = { repo, clock, provider: network };
    assert.equal((await reconcileChargeAttempts(rdeps)).settled, 0, 'not due yet');
    advance(DEFAULT_CHECK_AFTER_MS);
    assert.equal((await reconcileChargeAttempts(rdeps)).settled, 1);
    assert.deepEqual(await types(), ['PaymentInitiated', 'PaymentConfirmed']);
    assert.deepEqual(
      (await attemptsOf(paymentId)).map((a) => a.status),
      ['succeeded'],
    );
    assert.equal((await network.chargesOf(paymentId)).length, 1);
    advance(DEFAULT_RECONCILE_POLICY.maxDelayMs);
    assert.deepEqual(await reconcileChargeAttempts(rdeps), {
      settled: 0,
      processing: 0,
      abandoned: 0,
      not_received_yet: 0,
      lookup_failed: 0,
      gone: 0,
    });
  });

  test('crash before the network received the charge: the sweep waits, then abandons the attempt; the guest may pay again', async () => {
    const paymentId = await initiate();
    const lost: Pick<PaymentProvider, 'charge'> = { charge: () => Promise.reject(new Error('connection reset')) };
    assert.ok(!(await chargePayment({ ...deps(), provider: lost }, { payment_id: paymentId, payment_method: '4242424242424242' })).ok);
    const rdeps = { repo, clock, provider: network };
    advance(DEFAULT_CHECK_AFTER_MS);
    assert.equal((await reconcileChargeAttempts(rdeps)).not_received_yet, 1);
    advance(DEFAULT_RECONCILE_POLICY.abandonAfterMs);
    assert.equal((await reconcileChargeAttempts(rdeps)).abandoned, 1);
    assert.deepEqual(
      (await attemptsOf(paymentId)).map((a) => a.status),
      ['abandoned'],
    );
    assert.ok((await chargePayment(deps(), { payment_id: paymentId, payment_method: '4242424242424242' })).ok);
    await flush();
    assert.deepEqual(await types(), ['PaymentInitiated', 'PaymentConfirmed']);
  });

  test('callback delivery keeps failing: it backs off for real (never 0 ms apart, growing, bounded), then the sweep completes the payment', async () => {
    setup({ latencyMs: 0, maxDeliveries: 4, random: () => 0.5 });
    deliverFails = true;
    const paymentId = await initiate();
    assert.ok((await chargePayment(deps(), { payment_id: paymentId, payment_method: '4242424242424242' })).ok);
    const delays: number[] = [];
    for (let i = 0; i < 10 && timers.length > 0; i++) {
      delays.push(...timers.map((t) => t.ms));
      await flushOnce();
    }
    assert.deepEqual(delays, [0, 250, 500, 1000], 'first at the latency (0), then 250 ms doubling: never 0 ms apart');
    assert.equal(timers.length, 0, 'bounded: no more deliveries');
    assert.deepEqual(await types(), ['PaymentInitiated']);
    advance(DEFAULT_CHECK_AFTER_MS);
    assert.equal((await reconcileChargeAttempts({ repo, clock, provider: network })).settled, 1);
    assert.deepEqual(await types(), ['PaymentInitiated', 'PaymentConfirmed']);
    assert.ok(
      checkDelayMs(0, DEFAULT_RECONCILE_POLICY) > 0 && checkDelayMs(50, DEFAULT_RECONCILE_POLICY) === DEFAULT_RECONCILE_POLICY.maxDelayMs,
    );
  });

  test("the callback and two instances' recovery sweeps settling one charge at once → one PaymentConfirmed, the attempt closed once", async () => {
    deliverFails = true;
    const paymentId = await initiate();
    const charged = await chargePayment(deps(), { payment_id: paymentId, payment_method: '4242424242424242' });
    assert.ok(charged.ok);
    advance(DEFAULT_CHECK_AFTER_MS);
    const callback = {
      payment_id: paymentId,
      provider_reference: charged.value.provider_reference,
      idempotency_key: charged.value.attempt_id,
      outcome: { status: 'succeeded' as const },
    };
    const [a, b, c] = await Promise.all([
      reconcileChargeAttempts({ repo, clock, provider: network }),
      reconcileChargeAttempts({ repo: repo2, clock, provider: network }),
      settlePayment(deps(), callback),
    ]);
    assert.equal(a.settled + b.settled, 1, 'one sweep claimed the attempt');
    assert.ok(c.ok);
    assert.deepEqual(await types(), ['PaymentInitiated', 'PaymentConfirmed']);
    assert.deepEqual(
      (await attemptsOf(paymentId)).map((x) => x.status),
      ['succeeded'],
    );
  });

  test('a charge still processing at the network: the sweep records it and checks again later, not at once', async () => {
    setup({ latencyMs: 60 * 60_000 });
    deliverFails = true;
    const paymentId = await initiate();
    await chargePayment(deps(), { payment_id: paymentId, payment_method: '4242424242424242' });
    advance(DEFAULT_CHECK_AFTER_MS);
    assert.equal((await reconcileChargeAttempts({ repo, clock, provider: network })).processing, 1);
    assert.equal((await reconcileChargeAttempts({ repo, clock, provider: network })).processing, 0, 'not due again yet');
  });

  test('money taken before the void reached the network → settled later → PaymentRefunded, never confirmed', async () => {
    const paymentId = await initiate();
    await chargePayment(deps(), { payment_id: paymentId, payment_method: '4242424242424242' });
    deliverFails = true;
    await flushOnce(); // settles at the network; the callback does not get through
    await repo.transaction((tx) => closePaymentOnReservationExpired(deps(), tx, flow.expired));
    deliverFails = false;
    await flush();
    assert.equal(await refundPendingPayments({ repo, clock, provider: network }), 1);
    assert.deepEqual(await types(), ['PaymentInitiated', 'PaymentRefunded']);
    const refunded = (await outbox())[1]!;
    assert.equal((refunded.payload as { reason: string }).reason, 'booking_expired');
    assert.equal((await getPaymentOfBooking(queries, flow.booking_id))?.status, 'refunded');
    assert.deepEqual(
      (await network.chargesOf(paymentId)).map((c) => c.status),
      ['refunded'],
    );
  });

  test('a second success on a confirmed payment (another charge) is refunded: PaymentRefunded(duplicate_charge); the payment stays confirmed', async () => {
    const paymentId = await initiate();
    await chargePayment(deps(), { payment_id: paymentId, payment_method: '4242424242424242' });
    await flush();
    // A charge made outside our attempts (say, an old client talking to the network directly).
    const stray = await network.charge({
      idempotency_key: newEventId(),
      payment_id: paymentId,
      booking_id: flow.booking_id,
      amount: { amount_minor: 700, currency: 'EUR' },
      payment_method: '4242424242424242',
    });
    assert.equal(stray.status, 'accepted');
    await flush();
    assert.equal(await refundPendingPayments({ repo, clock, provider: network }), 1);
    assert.deepEqual(await types(), ['PaymentInitiated', 'PaymentConfirmed', 'PaymentRefunded']);
    const refund = (await outbox())[2]!;
    assert.equal((refund.payload as { reason: string }).reason, 'duplicate_charge');
    assert.equal((refund.payload as { amount: number }).amount, 700, "the stray charge's own amount, as the network refunded it");
    assert.equal(
      (refund.payload as { provider_reference: string }).provider_reference,
      stray.status === 'accepted' ? stray.provider_reference : '',
    );
    assert.equal((await getPaymentOfBooking(queries, flow.booking_id))?.status, 'confirmed');
    assert.deepEqual(
      (await network.chargesOf(paymentId)).map((c) => c.status),
      ['succeeded', 'refunded'],
    );
  });

  test('a refund that keeps failing: counted, retried with a bounded backoff, then parked as failed for an operator, who retries it', async () => {
    const paymentId = await initiate();
    await chargePayment(deps(), { payment_id: paymentId, payment_method: '4242424242424242' });
    await flush();
    await repo.transaction((tx) => closePaymentOnBookingCancelled(deps(), tx, flow.cancelled));
    const failures: { attempts: number; final: boolean }[] = [];
    const policy = { maxAttempts: 4, baseDelayMs: 1000, maxDelayMs: 3000 };
    const broken = {
      repo,
      clock,
      policy,
      random: () => 0.5,
      provider: { refund: () => Promise.reject(new Error('provider down')) },
      observer: { refundFailed: (r: Refund, _e: unknown, final: boolean) => void failures.push({ attempts: r.attempts, final }) },
    };
    const waits: number[] = [];
    for (let i = 0; i < 10; i++) {
      await refundPendingPayments(broken);
      const [pending] = await repo.listRefunds('pending', 10);
      if (!pending) break;
      const wait = Date.parse(pending.next_attempt_at!) - nowMs;
      waits.push(wait);
      assert.equal(await refundPendingPayments(broken), 0, 'not retried before its time');
      advance(wait);
    }
    assert.deepEqual(waits, [1000, 2000, 3000], 'doubling, capped at maxDelayMs');
    assert.deepEqual(failures, [
      { attempts: 1, final: false },
      { attempts: 2, final: false },
      { attempts: 3, final: false },
      { attempts: 4, final: true },
    ]);
    const [parked] = await repo.listRefunds('failed', 10);
    assert.equal(parked?.payment_id, paymentId);
    assert.equal(parked.last_error, 'provider down');
    advance(60 * 60_000);
    assert.equal(await refundPendingPayments({ repo, clock, provider: network }), 0, 'a parked refund is not retried by the sweep');
    const retried = await retryRefund({ repo, clock, provider: network }, parked.refund_id);
    assert.equal(retried.status, 'succeeded');
    assert.equal((await retryRefund({ repo, clock, provider: network }, parked.refund_id)).status, 'already_succeeded');
    assert.equal((await retryRefund({ repo, clock, provider: network }, 'no-such-refund')).status, 'not_found');
    assert.deepEqual(await types(), ['PaymentInitiated', 'PaymentConfirmed', 'PaymentRefunded']);
    assert.equal((await getPaymentOfBooking(queries, flow.booking_id))?.status, 'refunded');
    assert.ok(refundBackoffMs(1, DEFAULT_REFUND_POLICY, () => 0) > 0);
  });

  test('two instances sweeping refunds at once → one provider refund call wins, one PaymentRefunded', async () => {
    await initiate();
    const paymentId = (await getPaymentOfBooking(queries, flow.booking_id))!.payment_id;
    await chargePayment(deps(), { payment_id: paymentId, payment_method: '4242424242424242' });
    await flush();
    await repo.transaction((tx) => closePaymentOnBookingCancelled(deps(), tx, flow.cancelled));
    const done = await Promise.all([
      refundPendingPayments({ repo, clock, provider: network }),
      refundPendingPayments({ repo: repo2, clock, provider: network }),
    ]);
    assert.equal(done[0] + done[1], 1);
    assert.deepEqual(await types(), ['PaymentInitiated', 'PaymentConfirmed', 'PaymentRefunded']);
  });

  test('booking ended before BookingReserved reached payment → no payment is started', async () => {
    await repo.transaction((tx) => closePaymentOnReservationExpired(deps(), tx, flow.expired));
    const outcome = await repo.transaction((tx) => initiatePaymentOnBookingReserved(deps(), tx, flow.reserved));
    assert.ok(outcome.status === 'ignored' && outcome.ignored.code === 'booking_ended');
    assert.deepEqual(await types(), []);
  });

  test('a settlement for an unknown payment → payment_not_found; the network refuses to refund what it never charged', async () => {
    const r = await settlePayment(deps(), { payment_id: 'nope', provider_reference: 'x', outcome: { status: 'succeeded' } });
    assert.ok(!r.ok);
    assert.equal(r.errors[0].code, 'payment_not_found');
    await assert.rejects(
      network.refund({ payment_id: 'nope', provider_reference: 'x', amount: { amount_minor: 1, currency: 'EUR' } }),
      /no charge/,
    );
    await waitFor(() => true);
  });
});

describe('simulated card network helpers', () => {
  test('Luhn check and callback signatures', () => {
    assert.ok(luhnValid('4242424242424242'));
    assert.ok(luhnValid('4000000000000002'));
    assert.ok(!luhnValid('4242424242424241'));
    const sig = signCallback('{"a":1}', 'secret');
    assert.ok(verifyCallback('{"a":1}', sig, 'secret'));
    assert.ok(!verifyCallback('{"a":2}', sig, 'secret'));
    assert.ok(!verifyCallback('{"a":1}', 'zz', 'secret'));
  });
});
