// Tests are not domain code: the purity rule does not apply to the test runner.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BookingEnd, PaymentCommand, PaymentDecision, PaymentEvent, RefundCause } from './payment.js';
import { chargeable, decide, isPublic, replay } from './payment.js';

const amount = { amount_minor: 2800, currency: 'EUR' };
const T = '2025-05-10T09:00:00.000Z';

const initiated: PaymentEvent = {
  type: 'PaymentInitiated',
  data: { payment_id: 'p-1', booking_id: 'b-1', amount, provider: 'sim', initiated_at: T },
};
const confirmed: PaymentEvent = {
  type: 'PaymentConfirmed',
  data: { payment_id: 'p-1', booking_id: 'b-1', amount, provider_reference: 'ref-1', confirmed_at: T },
};
const failed: PaymentEvent = {
  type: 'PaymentFailed',
  data: { payment_id: 'p-1', booking_id: 'b-1', reason_code: 'card_declined', reason: 'Your card was declined.', failed_at: T },
};
const voided: PaymentEvent = {
  type: 'PaymentVoided',
  data: { payment_id: 'p-1', booking_id: 'b-1', because: 'booking_expired', voided_at: T },
};
const ended: PaymentEvent = { type: 'BookingEndedBeforePayment', data: { booking_id: 'b-1', because: 'booking_cancelled', at: T } };
const refundRequested = (because: RefundCause, provider_reference = 'ref-1'): PaymentEvent => ({
  type: 'RefundRequested',
  data: { payment_id: 'p-1', booking_id: 'b-1', amount, provider_reference, because, requested_at: T },
});
const refunded = (reason: RefundCause = 'booking_cancelled', provider_reference = 'ref-1'): PaymentEvent => ({
  type: 'PaymentRefunded',
  data: {
    payment_id: 'p-1',
    booking_id: 'b-1',
    amount: 2800,
    currency: 'EUR',
    reason,
    provider_reference,
    refund_reference: `rf-${provider_reference}`,
    refunded_at: T,
  },
});

const initiate: PaymentCommand = {
  type: 'InitiatePayment',
  data: { payment_id: 'p-1', booking_id: 'b-1', amount, provider: 'sim', now: T },
};
const settleOk: PaymentCommand = {
  type: 'SettlePayment',
  data: { payment_id: 'p-1', provider_reference: 'ref-1', outcome: { status: 'succeeded' }, now: T },
};
const settleDeclined: PaymentCommand = {
  type: 'SettlePayment',
  data: {
    payment_id: 'p-1',
    provider_reference: 'ref-1',
    outcome: { status: 'failed', reason_code: 'card_declined', reason: 'Your card was declined.' },
    now: T,
  },
};
const close = (because: BookingEnd): PaymentCommand => ({ type: 'CloseForEndedBooking', data: { booking_id: 'b-1', because, now: T } });
const recordRefund = (reason: RefundCause = 'booking_cancelled', provider_reference = 'ref-1'): PaymentCommand => ({
  type: 'RecordRefund',
  data: { payment_id: 'p-1', provider_reference, refund_reference: `rf-${provider_reference}`, amount, reason, now: T },
});
const settleOkWith = (provider_reference: string): PaymentCommand => ({
  type: 'SettlePayment',
  data: { payment_id: 'p-1', provider_reference, outcome: { status: 'succeeded' }, now: T },
});

const given = (...history: PaymentEvent[]) => ({ when: (c: PaymentCommand) => decide(c, replay(history)) });

function thenEvents(d: PaymentDecision, expected: PaymentEvent[]): void {
  assert.ok(d.ok, JSON.stringify(d));
  assert.deepEqual(d.events, expected);
  assert.equal(d.ignored, undefined);
}
function thenIgnored(d: PaymentDecision, code: string): void {
  assert.ok(d.ok, JSON.stringify(d));
  assert.deepEqual(d.events, []);
  assert.equal(d.ignored?.code, code);
}
function thenRejected(d: PaymentDecision, code: string): void {
  assert.ok(!d.ok, JSON.stringify(d));
  assert.equal(d.errors[0].code, code);
}

describe('InitiatePayment (BookingReserved)', () => {
  test('no payment yet → PaymentInitiated', () => thenEvents(given().when(initiate), [initiated]));
  test('already initiated (BookingReserved redelivered) → no event', () => {
    for (const h of [[initiated], [initiated, confirmed], [initiated, failed], [initiated, voided]])
      thenIgnored(given(...h).when(initiate), 'already_initiated');
  });
  test('booking ended before the reservation reached payment → nothing started', () =>
    thenIgnored(given(ended).when(initiate), 'booking_ended'));
  test('nothing to pay → rejected', () => {
    thenRejected(
      decide({ type: 'InitiatePayment', data: { ...initiate.data, amount: { amount_minor: 0, currency: 'EUR' } } }, replay([])),
      'invalid_amount',
    );
  });
});

describe('SettlePayment (provider callback)', () => {
  test('initiated + success → PaymentConfirmed', () => thenEvents(given(initiated).when(settleOk), [confirmed]));
  test('initiated + decline → PaymentFailed with the reason code', () => thenEvents(given(initiated).when(settleDeclined), [failed]));
  test('the same callback twice → one event', () => {
    thenIgnored(given(initiated, confirmed).when(settleOk), 'already_settled');
    thenIgnored(given(initiated, failed).when(settleDeclined), 'already_settled');
  });
  test('a contradicting second callback never overturns a confirmation', () =>
    thenIgnored(given(initiated, confirmed).when(settleDeclined), 'already_settled'));
  test('success after a failure → refund (the booking is already cancelled)', () =>
    thenEvents(given(initiated, failed).when(settleOk), [refundRequested('settled_after_failure')]));
  test('voided (booking ended) + success → no PaymentConfirmed, refund instead', () =>
    thenEvents(given(initiated, voided).when(settleOk), [refundRequested('booking_expired')]));
  test('voided + decline → no event', () => thenIgnored(given(initiated, voided).when(settleDeclined), 'already_voided'));
  test('a second success with another provider reference on a confirmed payment → refund of that charge (duplicate_charge); the payment stays confirmed', () => {
    thenEvents(given(initiated, confirmed).when(settleOkWith('ref-2')), [refundRequested('duplicate_charge', 'ref-2')]);
    assert.equal(replay([initiated, confirmed, refundRequested('duplicate_charge', 'ref-2')]).status, 'confirmed');
  });
  test('a duplicate charge settling while the payment is refunding or refunded is refunded too', () => {
    thenEvents(given(initiated, confirmed, refundRequested('booking_cancelled')).when(settleOkWith('ref-2')), [
      refundRequested('duplicate_charge', 'ref-2'),
    ]);
    thenEvents(given(initiated, confirmed, refundRequested('booking_cancelled'), refunded()).when(settleOkWith('ref-2')), [
      refundRequested('duplicate_charge', 'ref-2'),
    ]);
  });
  test('a second success after a voided payment was already refunding → duplicate_charge refund', () => {
    thenEvents(given(initiated, voided, refundRequested('booking_expired')).when(settleOkWith('ref-2')), [
      refundRequested('duplicate_charge', 'ref-2'),
    ]);
  });
  test('a failure of another charge on a confirmed payment → nothing (no money moved)', () => {
    const otherDeclined: PaymentCommand = {
      type: 'SettlePayment',
      data: {
        payment_id: 'p-1',
        provider_reference: 'ref-2',
        outcome: { status: 'failed', reason_code: 'card_declined', reason: 'x' },
        now: T,
      },
    };
    thenIgnored(given(initiated, confirmed).when(otherDeclined), 'already_settled');
  });
  test('refund pending or refunded → no event', () => {
    thenIgnored(given(initiated, confirmed, refundRequested('booking_cancelled')).when(settleOk), 'already_settled');
    thenIgnored(given(initiated, confirmed, refundRequested('booking_cancelled'), refunded()).when(settleOk), 'already_settled');
  });
  test('unknown payment → payment_not_found', () => {
    thenRejected(given().when(settleOk), 'payment_not_found');
    thenRejected(given(ended).when(settleOk), 'payment_not_found');
    thenRejected(given(initiated).when({ ...settleOk, data: { ...settleOk.data, payment_id: 'p-2' } }), 'payment_not_found');
  });
});

describe('CloseForEndedBooking (BookingCancelled / ReservationExpired)', () => {
  test('pending payment → voided, settles nothing afterwards', () => {
    thenEvents(given(initiated).when(close('booking_expired')), [voided]);
  });
  test('confirmed (late confirmation, or guest cancelled a paid booking) → refund', () => {
    thenEvents(given(initiated, confirmed).when(close('booking_cancelled')), [refundRequested('booking_cancelled')]);
  });
  test('no payment yet → remembered, so a late BookingReserved starts none', () => {
    thenEvents(given().when(close('booking_cancelled')), [ended]);
  });
  test('failed (BookingCancelled(payment_failed) coming back), voided, refunding or refunded → no event', () => {
    for (const h of [
      [ended],
      [initiated, failed],
      [initiated, voided],
      [initiated, confirmed, refundRequested('booking_expired')],
      [initiated, confirmed, refundRequested('booking_expired'), refunded()],
    ]) {
      thenIgnored(given(...h).when(close('booking_cancelled')), 'already_closed');
    }
  });
});

describe('RecordRefund', () => {
  test('refund pending → PaymentRefunded', () =>
    thenEvents(given(initiated, confirmed, refundRequested('booking_cancelled')).when(recordRefund()), [refunded()]));
  test('twice → one event', () =>
    thenIgnored(given(initiated, confirmed, refundRequested('booking_cancelled'), refunded()).when(recordRefund()), 'already_refunded'));
  test('nothing to refund → rejected', () => thenRejected(given(initiated, confirmed).when(recordRefund()), 'no_refund_pending'));
  test('unknown payment → rejected', () => thenRejected(given().when(recordRefund()), 'no_refund_pending'));
  test('PaymentRefunded is public, with primitive data (amount in minor units, currency, reason, provider reference)', () => {
    const d = given(initiated, confirmed, refundRequested('booking_cancelled')).when(recordRefund());
    assert.ok(d.ok && d.events[0] && isPublic(d.events[0]));
    assert.deepEqual(d.events[0].data, refunded().data);
  });
  test('a duplicate charge refunded → PaymentRefunded(duplicate_charge); the payment keeps its status', () => {
    const history = [initiated, confirmed, refundRequested('duplicate_charge', 'ref-2')];
    thenEvents(given(...history).when(recordRefund('duplicate_charge', 'ref-2')), [refunded('duplicate_charge', 'ref-2')]);
    assert.equal(replay([...history, refunded('duplicate_charge', 'ref-2')]).status, 'confirmed');
  });
  test("after a duplicate's refund, the payment's own charge is still refunded when its booking ends", () => {
    const history = [
      initiated,
      confirmed,
      refundRequested('duplicate_charge', 'ref-2'),
      refunded('duplicate_charge', 'ref-2'),
      refundRequested('booking_cancelled'),
    ];
    assert.equal(replay(history).status, 'refund_pending');
    thenEvents(given(...history).when(recordRefund()), [refunded()]);
  });
});

describe('state and helpers', () => {
  test('replay walks the state machine', () => {
    assert.equal(replay([initiated, confirmed, refundRequested('booking_cancelled'), refunded()]).status, 'refunded');
    assert.equal(replay([initiated, voided, refundRequested('booking_expired')]).status, 'refund_pending');
    assert.equal(replay([initiated, confirmed, failed]).status, 'confirmed');
  });
  test('only the shared events are public', () => {
    assert.deepEqual(
      [initiated, confirmed, failed, voided, ended, refunded()].filter(isPublic).map((e) => e.type),
      ['PaymentInitiated', 'PaymentConfirmed', 'PaymentFailed', 'PaymentRefunded'],
    );
  });
  test('the guest may pay only an open payment', () => {
    assert.equal(chargeable(replay([initiated])), undefined);
    assert.equal(chargeable(replay([]))?.code, 'payment_not_found');
    assert.match(chargeable(replay([initiated, voided]))?.reason ?? '', /expired/);
    assert.equal(chargeable(replay([initiated, confirmed]))?.code, 'payment_not_open');
  });
});
