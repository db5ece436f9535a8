// The PaymentRepository / PaymentTransaction contract, run against every adapter (memory, Postgres
// on pg, Postgres on PGlite): the port itself, then payment's application handlers on it.
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import type { EventEnvelope } from '@albergue/events';
import { BookingCancelled, BookingReserved, newEnvelope, newEventId, ReservationExpired, withCorrelation } from '@albergue/events';
import { waitFor } from '@albergue/platform/testing';
import type { SqlDatabase } from '@albergue/outbox';
import { SimulatedCardNetwork } from '../adapters/provider/simulated-card-network.js';
import type { Initiation, PaymentState } from '../domain/payment.js';
import { chargePayment } from './charge-payment.js';
import { closePaymentOnBookingCancelled, closePaymentOnReservationExpired } from './close-payment.js';
import { initiatePaymentOnBookingReserved } from './initiate-payment.js';
import type {
  ChargeAttempt,
  PaymentQueries,
  PaymentRecord,
  PaymentRepository,
  PaymentTransaction,
  ProviderSettlement,
  Refund,
} from './ports.js';
import { PaymentConflictError } from './ports.js';
import { reconcileChargeAttempts } from './reconcile-charges.js';
import { refundPendingPayments } from './refund-payment.js';
import { settlePayment } from './settle-payment.js';

/** One adapter under test, emptied before each test. */
export interface PaymentStoreFixture {
  readonly repo: PaymentRepository;
  readonly queries: PaymentQueries;
  /**
   * Runs an event handler the way the service runtime does: in the inbox transaction of `envelope`
   * (Postgres: runInbox + repo.forTransaction(tx)). Returns undefined when the event was already
   * processed (the handler is skipped).
   */
  handle<T>(envelope: EventEnvelope, work: (tx: PaymentTransaction) => Promise<T>): Promise<T | undefined>;
  /** Every envelope appended to the outbox, in append order. */
  outbox(): Promise<EventEnvelope[]>;
  /**
   * Real Postgres only: resolves once some session waits on a row lock (to order concurrent
   * transactions without sleeping). Absent where transactions run one at a time (memory, PGlite).
   */
  readonly someoneWaitsForALock?: () => Promise<void>;
  /**
   * The database the simulated card network keeps its charges in (its tables migrated). Absent for
   * the memory adapter, whose run skips the handler scenarios (they need the network).
   */
  readonly db?: SqlDatabase;
}

export interface PaymentStoreHarness {
  readonly label: string;
  /** Its fixtures carry `db`, so the handler scenarios (which charge through the simulated network) run. */
  readonly withNetwork?: boolean;
  /** The adapter with no payments, no outbox rows and no inbox rows. */
  fresh(): Promise<PaymentStoreFixture>;
}

// ── Records for the port-level tests ───────────────────────────────────────────────────────────

const at = (minute: number) => new Date(Date.UTC(2025, 4, 10, 9, minute)).toISOString();
let counter = 0;
const unique = (prefix: string) => `${prefix}-${process.pid}-${++counter}`;

function initiation(bookingId: string, paymentId: string): Initiation {
  return {
    payment_id: paymentId,
    booking_id: bookingId,
    amount: { amount_minor: 5600, currency: 'EUR' },
    provider: 'simulated-card-network',
    initiated_at: at(0),
  };
}

function record(state: PaymentRecord['state'], correlation_id = newEventId()): PaymentRecord {
  return { state, correlation_id, last_event_id: newEventId() };
}

function initiated(bookingId = unique('bk'), paymentId = unique('pay')): PaymentRecord {
  return record({ status: 'initiated', payment: initiation(bookingId, paymentId) });
}

function refundRow(minute: number, over: Partial<Refund> = {}): Refund {
  const payment_id = unique('pay');
  return {
    refund_id: unique('rf'),
    payment_id,
    booking_id: unique('bk'),
    provider_reference: `ref-${payment_id}`,
    amount: { amount_minor: 5600, currency: 'EUR' },
    reason: 'booking_cancelled',
    status: 'pending',
    attempts: 0,
    next_attempt_at: at(minute),
    requested_at: at(minute),
    ...over,
  };
}

function attempt(paymentId: string, over: Partial<ChargeAttempt> = {}): ChargeAttempt {
  return {
    attempt_id: unique('att'),
    payment_id: paymentId,
    status: 'pending',
    checks: 0,
    next_check_at: at(1),
    created_at: at(0),
    ...over,
  };
}

const bookingOf = (r: PaymentRecord) => (r.state.status === 'booking_ended' ? r.state.booking_id : r.state.payment.booking_id);

/** Inserts records, each in its own transaction. */
async function insert(repo: PaymentRepository, ...records: PaymentRecord[]): Promise<void> {
  for (const r of records) await repo.transaction((tx) => tx.save(r));
}

function gate(): { wait: Promise<void>; open: () => void } {
  let open = () => undefined as void;
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}

// ── Application scenarios ──────────────────────────────────────────────────────────────────────

const clock = { now: () => new Date('2025-05-10T09:00:00.000Z') };

function bookingFlow(amount_minor = 5600) {
  const booking_id = unique('bk');
  const reserved = newEnvelope(
    BookingReserved,
    {
      booking_id,
      albergue_id: 'alb-1',
      guest: { guest_id: 'g-1', name: 'Ana', email: 'ana@example.org', locale: 'es' },
      check_in: '2025-06-01',
      check_out: '2025-06-03',
      beds: 2,
      total: { amount_minor, currency: 'EUR' },
      hold_expires_at: '2025-05-10T09:15:00.000Z',
    },
    { causation_id: 'req-1' },
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

export function paymentRepositoryContract(h: PaymentStoreHarness): void {
  let f: PaymentStoreFixture;

  // The provider, with settlements delivered when the test says so (no timers).
  let timers: (() => void)[] = [];
  let deliverFails = false;
  let delivered: ProviderSettlement[] = [];
  let network: SimulatedCardNetwork;
  let pending = 0; // settlement deliveries in progress
  let networkMs = 0; // the network's clock: moves on by a second at each flush, so charges settle then
  const deps = () => ({ repo: f.repo, clock, ids: () => unique('pay'), provider: network });
  /** Runs the settlements due now (a retry they schedule waits for the next call). */
  async function flushOnce(): Promise<void> {
    networkMs += 1000;
    const due = timers;
    timers = [];
    for (const fn of due) fn();
    // A settlement is delivered asynchronously: wait until its delivery attempts have finished.
    await network.drain();
    await waitFor(() => pending === 0, { message: 'settlement deliveries to finish' });
    await new Promise((resolve) => setImmediate(resolve));
  }
  async function flush(): Promise<void> {
    for (let i = 0; i < 20 && timers.length > 0; i++) await flushOnce();
    assert.equal(timers.length, 0, 'settlements still scheduled after 20 rounds');
  }

  describe(`${h.label}: PaymentRepository`, () => {
    beforeEach(async () => {
      f = await h.fresh();
      timers = [];
      delivered = [];
      deliverFails = false;
      pending = 0;
      networkMs = clock.now().getTime();
      network = new SimulatedCardNetwork({
        db: f.db ?? ({} as SqlDatabase), // unused: the scenarios that charge are skipped without a db
        now: () => new Date(networkMs),
        latencyMs: 200,
        deliver: async (s) => {
          pending++;
          try {
            if (deliverFails) throw new Error('callback endpoint down');
            delivered.push(s);
            const r = await settlePayment(deps(), s);
            if (!r.ok) throw new Error(r.errors[0].reason);
          } finally {
            pending--;
          }
        },
        schedule: (fn) => {
          timers.push(fn);
          return () => {
            timers = timers.filter((t) => t !== fn);
          };
        },
      });
    });

    const types = async (bookingId: string) =>
      (await f.outbox())
        .filter((e) => e.aggregate_id === bookingId || (e.payload as { booking_id?: string }).booking_id === bookingId)
        .map((e) => e.event_type);

    describe('the port', () => {
      test('save, then load by booking and by payment → the same record; unknown ids → undefined', async () => {
        const r = initiated();
        assert.equal(r.state.status, 'initiated');
        await insert(f.repo, r);
        const [byBooking, byPayment, none1, none2] = await f.repo.transaction(async (tx) => [
          await tx.loadByBooking(bookingOf(r)),
          r.state.status === 'booking_ended' ? undefined : await tx.loadByPayment(r.state.payment.payment_id),
          await tx.loadByBooking('no-such-booking'),
          await tx.loadByPayment('no-such-payment'),
        ]);
        assert.deepEqual(byBooking, r);
        assert.deepEqual(byPayment, r);
        assert.equal(none1, undefined);
        assert.equal(none2, undefined);
      });

      test('a booking that ended before any payment is stored by booking_id, with no payment', async () => {
        const r = record({ status: 'booking_ended', booking_id: unique('bk'), because: 'booking_expired' });
        await insert(f.repo, r);
        assert.deepEqual(await f.repo.transaction((tx) => tx.loadByBooking(bookingOf(r))), r);
      });

      test('every state round-trips; an update keeps one record per booking', async () => {
        const first = initiated();
        assert.ok(first.state.status === 'initiated');
        const payment = first.state.payment;
        await insert(f.repo, first);
        const states: PaymentState[] = [
          { status: 'confirmed', payment, provider_reference: 'ref-1', confirmed_at: at(1) },
          { status: 'refund_pending', payment, provider_reference: 'ref-1', because: 'booking_cancelled', requested_at: at(2) },
          { status: 'refunded', payment, provider_reference: 'ref-1', refund_reference: 'rf-1', refunded_at: at(3) },
          { status: 'failed', payment, reason_code: 'card_declined', reason: 'The card was declined.', failed_at: at(4) },
          { status: 'voided', payment, because: 'booking_expired', voided_at: at(5) },
        ];
        for (const state of states) {
          assert.ok(state.status !== 'none');
          const next = record(state, first.correlation_id);
          await f.repo.transaction(async (tx) => {
            assert.ok(await tx.loadByPayment(payment.payment_id));
            await tx.save(next);
          });
          assert.deepEqual(await f.repo.transaction((tx) => tx.loadByBooking(payment.booking_id)), next);
        }
      });

      test('a unit of work that throws stores nothing: no record, no view, no outbox row', async () => {
        const r = initiated();
        const event = bookingFlow().reserved;
        await assert.rejects(
          f.repo.transaction(async (tx) => {
            await tx.save(r);
            await tx.appendToOutbox([event]);
            throw new Error('provider down');
          }),
          /provider down/,
        );
        assert.equal(await f.repo.transaction((tx) => tx.loadByBooking(bookingOf(r))), undefined);
        assert.equal(await f.queries.findPaymentOfBooking(bookingOf(r)), undefined);
        assert.deepEqual(await f.outbox(), []);
      });

      test('appendToOutbox keeps the order of the envelopes; an empty list appends nothing', async () => {
        const a = bookingFlow();
        const envelopes = [a.reserved, a.cancelled, a.expired];
        await f.repo.transaction(async (tx) => {
          await tx.appendToOutbox([]);
          await tx.appendToOutbox(envelopes);
        });
        assert.deepEqual(
          (await f.outbox()).map((e) => e.event_id),
          envelopes.map((e) => e.event_id),
        );
        assert.deepEqual((await f.outbox())[0], a.reserved);
      });

      test('an insert never overwrites: a record the transaction did not load, or a payment_id in use → PaymentConflictError', async () => {
        const original = initiated();
        await insert(f.repo, original);
        assert.ok(original.state.status === 'initiated');
        const sameBooking = initiated(bookingOf(original));
        const samePayment = initiated(undefined, original.state.payment.payment_id);
        await assert.rejects(
          f.handle(bookingFlow().reserved, (tx) => tx.save(sameBooking)),
          PaymentConflictError,
        );
        await assert.rejects(
          f.repo.transaction((tx) => tx.save(sameBooking)),
          PaymentConflictError,
        );
        await assert.rejects(
          f.repo.transaction((tx) => tx.save(samePayment)),
          PaymentConflictError,
        );
        assert.deepEqual(await f.repo.transaction((tx) => tx.loadByBooking(bookingOf(original))), original);
        assert.equal(await f.repo.transaction((tx) => tx.loadByBooking(bookingOf(samePayment))), undefined);
        // Saving twice in one transaction updates the row it inserted.
        const twice = initiated();
        await f.repo.transaction(async (tx) => {
          await tx.save(twice);
          await tx.save({ ...twice, last_event_id: 'second' });
        });
        assert.equal((await f.repo.transaction((tx) => tx.loadByBooking(bookingOf(twice))))?.last_event_id, 'second');
      });

      test('refunds: one per charge (provider reference); claimRefundsDue takes due pending ones, oldest first, at most limit, and hides them until the lease ends', async () => {
        const late = refundRow(30);
        const early = refundRow(10);
        const middle = refundRow(20);
        const notDue = refundRow(50);
        await f.repo.transaction(async (tx) => {
          for (const r of [late, early, middle, notDue]) assert.equal(await tx.requestRefund(r), true);
          assert.equal(
            await tx.requestRefund({ ...early, refund_id: unique('rf') }),
            false,
            'a second refund of the same charge is not recorded',
          );
        });
        const now = new Date(at(40));
        const lease = new Date(at(45));
        assert.deepEqual(
          (await f.repo.claimRefundsDue(now, lease, 2)).map((r) => r.refund_id),
          [early.refund_id, middle.refund_id],
        );
        assert.deepEqual(
          (await f.repo.claimRefundsDue(now, lease, 10)).map((r) => r.refund_id),
          [late.refund_id],
          'claimed ones are hidden until the lease ends',
        );
        assert.deepEqual(
          (await f.repo.claimRefundsDue(new Date(at(46)), new Date(at(59)), 10)).map((r) => r.refund_id).sort(),
          [early.refund_id, middle.refund_id, late.refund_id].sort(),
          'the lease ended; the one not due stays',
        );
        await f.repo.transaction(async (tx) => {
          const r = await tx.loadRefund(middle.refund_id);
          assert.ok(r);
          await tx.updateRefund({ ...r, status: 'failed', attempts: 8, last_error: 'provider down', next_attempt_at: undefined });
        });
        assert.deepEqual(
          (await f.repo.listRefunds('failed', 10)).map((r) => [r.refund_id, r.attempts, r.last_error]),
          [[middle.refund_id, 8, 'provider down']],
        );
        assert.equal((await f.repo.listRefunds('pending', 10)).length, 3);
        assert.deepEqual(await f.repo.claimRefundsDue(new Date(at(50)), new Date(at(51)), 0), []);
      });

      test('charge attempts: at most one open per payment; closed ones do not count; claimAttemptsToCheck takes due open ones only', async () => {
        const paymentId = unique('pay');
        const first = attempt(paymentId);
        await f.repo.transaction((tx) => tx.insertAttempt(first));
        await assert.rejects(
          f.repo.transaction((tx) => tx.insertAttempt(attempt(paymentId))),
          PaymentConflictError,
        );
        await f.repo.transaction(async (tx) => {
          const open = await tx.openAttempt(paymentId);
          assert.equal(open?.attempt_id, first.attempt_id);
          await tx.updateAttempt({ ...open, status: 'rejected', reason_code: 'incorrect_number' });
        });
        const second = attempt(paymentId, { next_check_at: at(5) });
        await f.repo.transaction((tx) => tx.insertAttempt(second));
        assert.deepEqual(
          (await f.repo.claimAttemptsToCheck(new Date(at(4)), new Date(at(30)), 10)).map((a) => a.attempt_id),
          [],
        );
        const claimed = await f.repo.claimAttemptsToCheck(new Date(at(5)), new Date(at(30)), 10);
        assert.deepEqual(
          claimed.map((a) => [a.attempt_id, a.next_check_at]),
          [[second.attempt_id, at(30)]],
        );
        assert.deepEqual(await f.repo.claimAttemptsToCheck(new Date(at(6)), new Date(at(31)), 10), [], 'hidden while claimed');
        await f.repo.transaction((tx) =>
          tx.settleAttempts({
            payment_id: paymentId,
            provider_reference: 'ref-x',
            idempotency_key: second.attempt_id,
            status: 'succeeded',
          }),
        );
        const settled = await f.repo.transaction((tx) => tx.loadAttempt(second.attempt_id));
        assert.equal(settled?.status, 'succeeded');
        assert.equal(settled.provider_reference, 'ref-x');
        assert.equal(await f.repo.transaction((tx) => tx.openAttempt(paymentId)), undefined);
        assert.deepEqual(await f.repo.claimAttemptsToCheck(new Date(at(59)), new Date(at(59)), 10), []);
      });

      test('a loaded record is locked: a second transaction loading it waits for the first commit and sees its write', async () => {
        const r = initiated();
        assert.ok(r.state.status === 'initiated');
        const paymentId = r.state.payment.payment_id;
        await insert(f.repo, r);
        const inFirst = gate();
        const releaseFirst = gate();
        const confirmed = record(
          { status: 'confirmed', payment: r.state.payment, provider_reference: 'ref', confirmed_at: at(1) },
          r.correlation_id,
        );
        const first = f.repo.transaction(async (tx) => {
          await tx.loadByPayment(paymentId);
          await tx.save(confirmed);
          inFirst.open();
          await releaseFirst.wait;
        });
        await inFirst.wait;
        const second = f.repo.transaction((tx) => tx.loadByBooking(bookingOf(r)));
        if (f.someoneWaitsForALock) await f.someoneWaitsForALock();
        releaseFirst.open();
        await first;
        assert.deepEqual(await second, confirmed);
      });
    });

    describe('payment handlers on it', { skip: h.withNetwork ? false : 'the simulated card network needs a database' }, () => {
      test('BookingReserved → PaymentInitiated in the booking flow; the same delivery again and a second BookingReserved → no second payment', async () => {
        const { booking_id, reserved } = bookingFlow();
        const outcome = await f.handle(reserved, (tx) => initiatePaymentOnBookingReserved(deps(), tx, reserved));
        assert.equal(outcome?.status, 'applied');
        const [e] = await f.outbox();
        assert.equal(e?.event_type, 'PaymentInitiated');
        assert.equal(e.correlation_id, reserved.correlation_id);
        assert.equal(e.causation_id, reserved.event_id);
        assert.equal(
          await f.handle(reserved, (tx) => initiatePaymentOnBookingReserved(deps(), tx, reserved)),
          undefined,
          'the inbox skips a redelivery',
        );
        const copy = newEnvelope(BookingReserved, reserved.payload, { correlation_id: reserved.correlation_id });
        assert.equal((await f.handle(copy, (tx) => initiatePaymentOnBookingReserved(deps(), tx, copy)))?.status, 'ignored');
        assert.deepEqual(await types(booking_id), ['PaymentInitiated']);
        const view = await f.queries.findPaymentOfBooking(booking_id);
        assert.equal(view?.status, 'initiated');
        assert.deepEqual(view.amount, { amount_minor: 5600, currency: 'EUR' });
      });

      test('charge 4242… → callback → PaymentConfirmed caused by PaymentInitiated; the same callback twice → one event', async () => {
        const { booking_id, reserved } = bookingFlow();
        await f.handle(reserved, (tx) => initiatePaymentOnBookingReserved(deps(), tx, reserved));
        const paymentId = (await f.queries.findPaymentOfBooking(booking_id))?.payment_id;
        assert.ok(paymentId);
        const charged = await chargePayment(deps(), { payment_id: paymentId, payment_method: '4242 4242 4242 4242' });
        assert.ok(charged.ok);
        await flush();
        assert.deepEqual(await types(booking_id), ['PaymentInitiated', 'PaymentConfirmed']);
        const [initiatedEvent, confirmedEvent] = await f.outbox();
        assert.equal(confirmedEvent?.correlation_id, reserved.correlation_id);
        assert.equal(confirmedEvent.causation_id, initiatedEvent?.event_id);
        const again = await settlePayment(deps(), delivered[0]!);
        assert.ok(again.ok);
        assert.equal(again.events.length, 0);
        assert.deepEqual(await types(booking_id), ['PaymentInitiated', 'PaymentConfirmed']);
        const view = await f.queries.findPayment(paymentId);
        assert.equal(view?.status, 'confirmed');
        assert.equal(view.provider_reference, charged.value.provider_reference);
        assert.equal(view.confirmed_at, clock.now().toISOString());
      });

      test('card 4000…0002 → PaymentFailed(card_declined); the view shows why', async () => {
        const { booking_id, reserved } = bookingFlow();
        await f.handle(reserved, (tx) => initiatePaymentOnBookingReserved(deps(), tx, reserved));
        const paymentId = (await f.queries.findPaymentOfBooking(booking_id))?.payment_id;
        assert.ok(paymentId);
        assert.ok((await chargePayment(deps(), { payment_id: paymentId, payment_method: '4000000000000002' })).ok);
        await flush();
        assert.deepEqual(await types(booking_id), ['PaymentInitiated', 'PaymentFailed']);
        const view = await f.queries.findPayment(paymentId);
        assert.equal(view?.status, 'failed');
        assert.equal(view.reason_code, 'card_declined');
        assert.equal(view.failed_at, clock.now().toISOString());
      });

      test('booking cancelled before the charge settles → voided; the network cancels the charge; no PaymentConfirmed', async () => {
        const { booking_id, reserved, cancelled } = bookingFlow();
        await f.handle(reserved, (tx) => initiatePaymentOnBookingReserved(deps(), tx, reserved));
        const paymentId = (await f.queries.findPaymentOfBooking(booking_id))?.payment_id;
        assert.ok(paymentId);
        await chargePayment(deps(), { payment_id: paymentId, payment_method: '4242424242424242' });
        assert.equal((await f.handle(cancelled, (tx) => closePaymentOnBookingCancelled(deps(), tx, cancelled)))?.status, 'applied');
        assert.equal((await reconcileChargeAttempts(deps())).settled, 1, 'the sweep cancels the open charge and finds it failed');
        await flush();
        assert.equal(delivered[0]?.outcome.status, 'failed');
        assert.deepEqual(await types(booking_id), ['PaymentInitiated']);
        assert.equal((await f.queries.findPayment(paymentId))?.status, 'voided');
        const r = await chargePayment(deps(), { payment_id: paymentId, payment_method: '4242424242424242' });
        assert.ok(!r.ok);
      });

      test('money taken before the expiry reached payment → late settlement → refunded, never confirmed', async () => {
        const { booking_id, reserved, expired } = bookingFlow();
        await f.handle(reserved, (tx) => initiatePaymentOnBookingReserved(deps(), tx, reserved));
        const paymentId = (await f.queries.findPaymentOfBooking(booking_id))?.payment_id;
        assert.ok(paymentId);
        await chargePayment(deps(), { payment_id: paymentId, payment_method: '4242424242424242' });
        deliverFails = true;
        await flushOnce(); // settled at the network; the callback does not get through and is retried later
        assert.deepEqual(
          (await network.chargesOf(paymentId)).map((c) => c.status),
          ['succeeded'],
        );
        await f.handle(expired, (tx) => closePaymentOnReservationExpired(deps(), tx, expired));
        deliverFails = false;
        await flush();
        assert.deepEqual(await types(booking_id), ['PaymentInitiated']);
        assert.equal((await f.queries.findPayment(paymentId))?.status, 'refund_pending');
        assert.equal(await refundPendingPayments(deps()), 1);
        assert.deepEqual(await types(booking_id), ['PaymentInitiated', 'PaymentRefunded']);
        const refunded = (await f.outbox()).at(-1)!;
        assert.deepEqual(
          { ...(refunded.payload as object), refunded_at: undefined, refund_reference: undefined },
          {
            payment_id: paymentId,
            booking_id,
            amount: 5600,
            currency: 'EUR',
            reason: 'booking_expired',
            provider_reference: delivered[0]!.provider_reference,
            refunded_at: undefined,
            refund_reference: undefined,
          },
        );
        const view = await f.queries.findPayment(paymentId);
        assert.equal(view?.status, 'refunded');
        assert.ok(view.refund_reference);
        assert.deepEqual(
          (await network.chargesOf(paymentId)).map((c) => c.status),
          ['refunded'],
        );
        assert.deepEqual(await f.repo.listRefunds('pending', 10), []);
      });

      test('confirmed, then the guest cancels → refund due; a failed refund stays pending and the sweep finishes it, once', async () => {
        const { booking_id, reserved, cancelled } = bookingFlow();
        await f.handle(reserved, (tx) => initiatePaymentOnBookingReserved(deps(), tx, reserved));
        const paymentId = (await f.queries.findPaymentOfBooking(booking_id))?.payment_id;
        assert.ok(paymentId);
        await chargePayment(deps(), { payment_id: paymentId, payment_method: '4242424242424242' });
        await flush();
        const outcome = await f.handle(cancelled, (tx) => closePaymentOnBookingCancelled(deps(), tx, cancelled));
        assert.ok(outcome?.status === 'applied' && outcome.refund_due === paymentId);
        assert.deepEqual(
          (await f.repo.listRefunds('pending', 10)).map((r) => r.payment_id),
          [paymentId],
        );
        const failures: boolean[] = [];
        const broken = {
          ...deps(),
          provider: { refund: () => Promise.reject(new Error('provider down')) },
          observer: { refundFailed: (_r: Refund, _e: unknown, final: boolean) => void failures.push(final) },
        };
        assert.equal(await refundPendingPayments(broken), 0);
        assert.deepEqual(failures, [false], 'the failure is reported, not swallowed');
        assert.equal((await f.queries.findPayment(paymentId))?.status, 'refund_pending');
        const [waiting] = await f.repo.listRefunds('pending', 10);
        assert.equal(waiting?.attempts, 1);
        assert.equal(waiting.last_error, 'provider down');
        assert.ok(Date.parse(waiting.next_attempt_at!) > clock.now().getTime(), 'retried later, not at once');
        assert.equal(await refundPendingPayments(deps()), 0, 'not due yet');
        const later = { ...deps(), clock: { now: () => new Date(clock.now().getTime() + 60_000) } };
        assert.equal(await refundPendingPayments(later), 1);
        assert.equal(await refundPendingPayments(later), 0);
        assert.equal((await f.queries.findPayment(paymentId))?.status, 'refunded');
        assert.deepEqual(await types(booking_id), ['PaymentInitiated', 'PaymentConfirmed', 'PaymentRefunded']);
      });

      test('booking ended before BookingReserved reached payment → no payment is started', async () => {
        const { booking_id, reserved, expired } = bookingFlow();
        await f.handle(expired, (tx) => closePaymentOnReservationExpired(deps(), tx, expired));
        const outcome = await f.handle(reserved, (tx) => initiatePaymentOnBookingReserved(deps(), tx, reserved));
        assert.ok(outcome?.status === 'ignored' && outcome.ignored.code === 'booking_ended');
        assert.deepEqual(await types(booking_id), []);
        assert.equal(await f.queries.findPaymentOfBooking(booking_id), undefined);
      });

      test('BookingReserved and ReservationExpired racing for one booking → the loser retries and sees the winner: voided, never lost', async () => {
        const { booking_id, reserved, expired } = bookingFlow();
        const inFirst = gate();
        const releaseFirst = gate();
        const first = f.handle(reserved, async (tx) => {
          const outcome = await initiatePaymentOnBookingReserved(deps(), tx, reserved);
          inFirst.open();
          await releaseFirst.wait; // not committed yet
          return outcome;
        });
        await inFirst.wait;
        // The router retries a failed handler (bounded here): a lost insert race is such a failure.
        const deliverExpired = async () => {
          for (let attempt = 1; ; attempt++) {
            try {
              return await f.handle(expired, (tx) => closePaymentOnReservationExpired(deps(), tx, expired));
            } catch (err) {
              if (!(err instanceof PaymentConflictError) || attempt >= 3) throw err;
            }
          }
        };
        const second = deliverExpired();
        if (f.someoneWaitsForALock) await f.someoneWaitsForALock();
        releaseFirst.open();
        assert.equal((await first)?.status, 'applied');
        assert.equal((await second)?.status, 'applied');
        const view = await f.queries.findPaymentOfBooking(booking_id);
        assert.equal(view?.status, 'voided');
        assert.deepEqual(await types(booking_id), ['PaymentInitiated']);
      });
    });
  });
}
