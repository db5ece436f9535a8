// The PaymentQueries contract, run against every adapter: the read side answers from the projection
// that PaymentRepository.save writes in the command's transaction.
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import { newEventId } from '@albergue/events';
import type { Initiation, PaymentState } from '../domain/payment.js';
import type { PaymentStoreFixture, PaymentStoreHarness } from './payment-repository.contract.js';
import type { PaymentRecord } from './ports.js';
import { paymentView } from './support.js';

const at = (minute: number) => new Date(Date.UTC(2025, 4, 10, 9, minute)).toISOString();
let counter = 0;
const unique = (prefix: string) => `${prefix}-q${process.pid}-${++counter}`;

function initiation(amount_minor = 5600): Initiation {
  return {
    payment_id: unique('pay'),
    booking_id: unique('bk'),
    amount: { amount_minor, currency: 'EUR' },
    provider: 'simulated-card-network',
    initiated_at: at(0),
  };
}

const record = (state: PaymentRecord['state']): PaymentRecord => ({ state, correlation_id: newEventId(), last_event_id: newEventId() });

export function paymentQueriesContract(h: PaymentStoreHarness): void {
  let f: PaymentStoreFixture;

  describe(`${h.label}: PaymentQueries port`, () => {
    beforeEach(async () => {
      f = await h.fresh();
    });

    test('unknown payment or booking → undefined', async () => {
      assert.equal(await f.queries.findPayment('no-such-payment'), undefined);
      assert.equal(await f.queries.findPaymentOfBooking('no-such-booking'), undefined);
    });

    test('each status reads back as paymentView(state), by payment_id and by booking_id', async () => {
      const states: PaymentState[] = [];
      const add = (make: (p: Initiation) => PaymentState) => states.push(make(initiation()));
      add((payment) => ({ status: 'initiated', payment }));
      add((payment) => ({ status: 'confirmed', payment, provider_reference: 'ref-1', confirmed_at: at(1) }));
      add((payment) => ({ status: 'failed', payment, reason_code: 'card_declined', reason: 'The card was declined.', failed_at: at(2) }));
      add((payment) => ({ status: 'voided', payment, because: 'booking_expired', voided_at: at(3) }));
      add((payment) => ({
        status: 'refund_pending',
        payment,
        provider_reference: 'ref-2',
        because: 'settled_after_failure',
        requested_at: at(4),
      }));
      add((payment) => ({ status: 'refunded', payment, provider_reference: 'ref-2', refund_reference: 'rf-1', refunded_at: at(5) }));
      for (const state of states) {
        assert.ok(state.status !== 'none' && state.status !== 'booking_ended');
        await f.repo.transaction((tx) => tx.save(record(state)));
        const expected = paymentView(state);
        assert.ok(expected);
        assert.deepEqual(await f.queries.findPayment(state.payment.payment_id), expected, state.status);
        assert.deepEqual(await f.queries.findPaymentOfBooking(state.payment.booking_id), expected, state.status);
      }
    });

    test('a booking that ended before its payment has no payment to show', async () => {
      const booking_id = unique('bk');
      await f.repo.transaction((tx) => tx.save(record({ status: 'booking_ended', booking_id, because: 'booking_cancelled' })));
      assert.equal(await f.queries.findPaymentOfBooking(booking_id), undefined);
    });

    test('the view follows the payment: failed → refunded replaces the answer, fields of the old status go', async () => {
      const payment = initiation();
      await f.repo.transaction((tx) => tx.save(record({ status: 'failed', payment, reason_code: 'x', reason: 'y', failed_at: at(1) })));
      const refunded: PaymentState = { status: 'refunded', payment, provider_reference: 'ref', refund_reference: 'rf', refunded_at: at(9) };
      await f.repo.transaction(async (tx) => {
        await tx.loadByPayment(payment.payment_id);
        await tx.save(record(refunded));
      });
      assert.deepEqual(await f.queries.findPayment(payment.payment_id), paymentView(refunded));
    });

    test('large amounts come back as numbers', async () => {
      const payment = initiation(2 ** 40);
      await f.repo.transaction((tx) => tx.save(record({ status: 'initiated', payment })));
      assert.deepEqual((await f.queries.findPayment(payment.payment_id))?.amount, { amount_minor: 2 ** 40, currency: 'EUR' });
    });
  });
}
