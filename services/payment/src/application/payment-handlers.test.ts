import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import { BookingCancelled, BookingReserved, newEnvelope, ReservationExpired, withCorrelation } from '@albergue/events';
import { MemoryPaymentStore } from '../adapters/memory/memory-payment-store';
import type { SimulatedCardNetworkOptions } from '../adapters/provider/simulated-card-network';
import { luhnValid, signCallback, SimulatedCardNetwork, verifyCallback } from '../adapters/provider/simulated-card-network';
import { chargePayment } from './charge-payment';
import { closePaymentOnBookingCancelled, closePaymentOnReservationExpired } from './close-payment';
import { initiatePaymentOnBookingReserved } from './initiate-payment';
import type { ProviderSettlement } from './ports';
import { getPaymentOfBooking } from './queries';
import { refundPayment, refundPendingPayments } from './refund-payment';
import { settlePayment } from './settle-payment';

const clock = { now: () => new Date('2025-05-10T09:00:00.000Z') };
let seq = 0;
const ids = () => `pay-${++seq}`;

// A manual timer: settlements are delivered when the test says so.
let timers: (() => void)[] = [];
const schedule = (fn: () => void) => {
  timers.push(fn);
  return () => { timers = timers.filter((t) => t !== fn); };
};
/** Runs the timers due now (a retry they schedule waits for the next call). */
async function flushOnce(): Promise<void> {
  const due = timers;
  timers = [];
  for (const fn of due) fn();
  await new Promise((r) => setImmediate(r));
}
async function flush(): Promise<void> {
  while (timers.length > 0) await flushOnce();
}

let store: MemoryPaymentStore;
let network: SimulatedCardNetwork;
let deliverFails = false;
let delivered: ProviderSettlement[] = [];
const deps = () => ({ repo: store, clock, ids, provider: network });

function setup(options: Partial<SimulatedCardNetworkOptions> = {}): void {
  store = new MemoryPaymentStore();
  delivered = [];
  deliverFails = false;
  timers = [];
  network = new SimulatedCardNetwork({
    deliver: async (s) => {
      if (deliverFails) throw new Error('callback endpoint down');
      delivered.push(s);
      const r = await settlePayment(deps(), s);
      if (!r.ok) throw new Error(r.errors[0].reason);
    },
    schedule,
    ...options,
  });
}

const reserved = newEnvelope(BookingReserved, {
  booking_id: 'b-1', albergue_id: 'alb-1', guest: { guest_id: 'g-1', name: 'Ana', email: 'ana@example.org', locale: 'es' },
  check_in: '2025-06-01', check_out: '2025-06-03', beds: 2, total: { amount_minor: 5600, currency: 'EUR' }, hold_expires_at: '2025-05-10T09:15:00.000Z',
}, { causation_id: 'req-1' });
const expired = newEnvelope(ReservationExpired, { booking_id: 'b-1', albergue_id: 'alb-1', hold_expires_at: '2025-05-10T09:15:00.000Z', expired_at: '2025-05-10T09:16:00.000Z' }, withCorrelation(reserved));
const cancelledByGuest = newEnvelope(BookingCancelled, { booking_id: 'b-1', albergue_id: 'alb-1', reason: 'guest_request', cancelled_at: '2025-05-10T09:10:00.000Z' }, withCorrelation(reserved));

async function initiate(): Promise<string> {
  const outcome = await store.transaction((tx) => initiatePaymentOnBookingReserved(deps(), tx, reserved));
  assert.equal(outcome.status, 'applied');
  const view = await getPaymentOfBooking(store, 'b-1');
  assert.ok(view);
  return view.payment_id;
}

const types = () => store.outbox.map((e) => e.event_type);

beforeEach(() => setup());

describe('payment application', () => {
  test('BookingReserved → PaymentInitiated in the booking flow; a redelivery starts no second payment', async () => {
    await initiate();
    const [e] = store.outbox;
    assert.equal(e?.event_type, 'PaymentInitiated');
    assert.equal(e.correlation_id, reserved.correlation_id);
    assert.equal(e.causation_id, reserved.event_id);
    assert.deepEqual((e.payload as { amount: unknown }).amount, { amount_minor: 5600, currency: 'EUR' });
    const again = await store.transaction((tx) => initiatePaymentOnBookingReserved(deps(), tx, reserved));
    assert.equal(again.status, 'ignored');
    assert.equal(store.outbox.length, 1);
  });

  test('pay with 4242… → callback → PaymentConfirmed caused by PaymentInitiated; a repeated callback → one event', async () => {
    const paymentId = await initiate();
    const charged = await chargePayment(deps(), { payment_id: paymentId, payment_method: '4242 4242 4242 4242' });
    assert.ok(charged.ok);
    await flush();
    assert.deepEqual(types(), ['PaymentInitiated', 'PaymentConfirmed']);
    const [initiated, confirmed] = store.outbox;
    assert.equal(confirmed?.correlation_id, reserved.correlation_id);
    assert.equal(confirmed.causation_id, initiated?.event_id);
    assert.equal((confirmed.payload as { provider_reference: string }).provider_reference, charged.value.provider_reference);
    const again = await settlePayment(deps(), delivered[0]!);
    assert.ok(again.ok);
    assert.equal(again.events.length, 0);
    assert.deepEqual(types(), ['PaymentInitiated', 'PaymentConfirmed']);
    // Paying twice charges once.
    const twice = await chargePayment(deps(), { payment_id: paymentId, payment_method: '4242424242424242' });
    assert.ok(!twice.ok);
    assert.equal(twice.errors[0].code, 'payment_not_open');
  });

  for (const [card, code] of [['4000000000000002', 'card_declined'], ['4000000000009995', 'insufficient_funds']] as const) {
    test(`card ${card} → PaymentFailed(${code})`, async () => {
      const paymentId = await initiate();
      assert.ok((await chargePayment(deps(), { payment_id: paymentId, payment_method: card })).ok);
      await flush();
      assert.deepEqual(types(), ['PaymentInitiated', 'PaymentFailed']);
      assert.equal((store.outbox[1]?.payload as { reason_code: string }).reason_code, code);
    });
  }

  test('failure rate 1 → every charge fails with processing_error', async () => {
    setup({ failureRate: 1, random: () => 0.5 });
    const paymentId = await initiate();
    await chargePayment(deps(), { payment_id: paymentId, payment_method: '4242424242424242' });
    await flush();
    assert.equal((store.outbox[1]?.payload as { reason_code: string }).reason_code, 'processing_error');
  });

  test('a malformed card number is refused, nothing charged, the guest can try again', async () => {
    const paymentId = await initiate();
    const r = await chargePayment(deps(), { payment_id: paymentId, payment_method: '4242424242424241' });
    assert.ok(!r.ok);
    assert.equal(r.errors[0].code, 'payment_method_rejected');
    assert.equal((await getPaymentOfBooking(store, 'b-1'))?.status, 'initiated');
    assert.ok((await chargePayment(deps(), { payment_id: paymentId, payment_method: '4242424242424242' })).ok);
  });

  test('booking expired before payment → voided; paying is refused', async () => {
    const paymentId = await initiate();
    const outcome = await store.transaction((tx) => closePaymentOnReservationExpired(deps(), tx, expired));
    assert.equal(outcome.status, 'applied');
    assert.equal((await getPaymentOfBooking(store, 'b-1'))?.status, 'voided');
    const r = await chargePayment(deps(), { payment_id: paymentId, payment_method: '4242424242424242' });
    assert.ok(!r.ok);
    assert.match(r.errors[0].reason, /expired/);
    assert.deepEqual(types(), ['PaymentInitiated']);
  });

  test('booking cancelled while the charge is in flight → the provider voids it; no PaymentConfirmed', async () => {
    const paymentId = await initiate();
    await chargePayment(deps(), { payment_id: paymentId, payment_method: '4242424242424242' });
    await store.transaction((tx) => closePaymentOnBookingCancelled(deps(), tx, cancelledByGuest));
    await flush();
    assert.equal(delivered[0]?.outcome.status, 'failed');
    assert.deepEqual(types(), ['PaymentInitiated']);
    assert.equal((await getPaymentOfBooking(store, 'b-1'))?.status, 'voided');
  });

  test('money taken before the void reached the network → settled later → refunded, never confirmed', async () => {
    const paymentId = await initiate();
    await chargePayment(deps(), { payment_id: paymentId, payment_method: '4242424242424242' });
    deliverFails = true;
    await flushOnce(); // settles at the network, the callback does not get through; a retry is scheduled
    assert.equal(network.status(paymentId), 'succeeded');
    await store.transaction((tx) => closePaymentOnReservationExpired(deps(), tx, expired));
    deliverFails = false;
    await flush();
    assert.deepEqual(types(), ['PaymentInitiated']);
    const view = await getPaymentOfBooking(store, 'b-1');
    assert.equal(view?.status, 'refunded');
    assert.equal(network.status(paymentId), 'refunded');
  });

  test('confirmed, then the guest cancels → refund due → refunded once', async () => {
    const paymentId = await initiate();
    await chargePayment(deps(), { payment_id: paymentId, payment_method: '4242424242424242' });
    await flush();
    const outcome = await store.transaction((tx) => closePaymentOnBookingCancelled(deps(), tx, cancelledByGuest));
    assert.ok(outcome.status === 'applied' && outcome.refund_due === paymentId);
    assert.equal((await refundPayment(deps(), paymentId)).status, 'applied');
    assert.equal((await refundPayment(deps(), paymentId)).status, 'ignored');
    assert.equal(await refundPendingPayments(deps()), 0);
    assert.equal((await getPaymentOfBooking(store, 'b-1'))?.status, 'refunded');
  });

  test('a refund the provider cannot do now stays pending; the sweep finishes it', async () => {
    const paymentId = await initiate();
    await chargePayment(deps(), { payment_id: paymentId, payment_method: '4242424242424242' });
    await flush();
    await store.transaction((tx) => closePaymentOnBookingCancelled(deps(), tx, cancelledByGuest));
    const broken = { ...deps(), provider: { refund: () => Promise.reject(new Error('provider down')) } };
    assert.equal(await refundPendingPayments(broken), 0);
    assert.equal((await getPaymentOfBooking(store, 'b-1'))?.status, 'refund_pending');
    assert.equal(await refundPendingPayments(deps()), 1);
    assert.equal((await getPaymentOfBooking(store, 'b-1'))?.status, 'refunded');
  });

  test('booking ended before BookingReserved reached payment → no payment is started', async () => {
    await store.transaction((tx) => closePaymentOnReservationExpired(deps(), tx, expired));
    const outcome = await store.transaction((tx) => initiatePaymentOnBookingReserved(deps(), tx, reserved));
    assert.ok(outcome.status === 'ignored' && outcome.ignored.code === 'booking_ended');
    assert.deepEqual(types(), []);
  });

  test('a callback for an unknown payment → payment_not_found', async () => {
    const r = await settlePayment(deps(), { payment_id: 'nope', provider_reference: 'x', outcome: { status: 'succeeded' } });
    assert.ok(!r.ok);
    assert.equal(r.errors[0].code, 'payment_not_found');
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
