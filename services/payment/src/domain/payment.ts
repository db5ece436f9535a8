// The payment decider: one payment per booking, started on BookingReserved, settled by the
// provider's callback, closed when the booking ends first. `decide(command, state) → events`,
// `evolve(state, event) → state`; pure.
//
//   none ──Initiate──▶ initiated ──settle ok──▶ confirmed ──booking ended──▶ refund_pending ──▶ refunded
//    │                    │  └──settle failed──▶ failed ──settle ok (contradiction)──▶ refund_pending
//    │                    └──booking ended──▶ voided ──settle ok (it was already in flight)──▶ refund_pending
//    └──booking ended──▶ booking_ended (a BookingReserved arriving after that initiates nothing)
//   confirmed / refund_pending / refunded ──another charge settles ok──▶ (same status) + a duplicate_charge refund
//
// Decisions:
// - A booking cancelled or expired before settlement voids the pending payment (the provider is
//   asked to cancel it); a settlement that still arrives does NOT confirm: no PaymentConfirmed,
//   and if money was taken it is refunded (RefundRequested → PaymentRefunded).
// - A payment that settled and whose booking then ends (a confirmation that came after the hold,
//   which booking answers with ReservationExpired, or a guest cancelling a confirmed booking) is
//   refunded in full.
// - Settling is idempotent: the same callback twice gives one event; a contradictory second
//   callback never overturns the first outcome.
// - Money is never kept by mistake: every success that does not settle the payment (after a
//   failure, after a void, or a second charge with another provider reference on a payment already
//   settled) requests a refund of that charge (RefundRequested, one per provider reference). A
//   `duplicate_charge` refund leaves the payment's status as it is.
// - Refunds are published (PaymentRefunded); voiding a payment that had taken no money is internal
//   (PaymentVoided), and the refund of a voided payment's charge is published like any other.
import type { DeepReadonly, PaymentConfirmed, PaymentFailed, PaymentInitiated, PaymentRefunded, PayloadOf } from '@albergue/events';
import type { Decision, DomainError } from '@albergue/decider';
import { accept, assertNever, ignore, reject } from '@albergue/decider';

export type Money = DeepReadonly<PayloadOf<typeof PaymentInitiated>['amount']>;
export type Initiation = DeepReadonly<PayloadOf<typeof PaymentInitiated>>;
/** Why the booking ended, as payment sees it. */
export type BookingEnd = 'booking_cancelled' | 'booking_expired';
/** Why a charge is refunded: the booking ended, it settled after the payment failed, or it settled nothing (a second charge). */
export type RefundCause = BookingEnd | 'settled_after_failure' | 'duplicate_charge';
export type Refunded = DeepReadonly<PayloadOf<typeof PaymentRefunded>>;

// ── Events ─────────────────────────────────────────────────────────────────────────────────────
/** Published: the payloads of the shared definitions. */
export type PublicPaymentEvent =
  | { readonly type: 'PaymentInitiated'; readonly data: Initiation }
  | { readonly type: 'PaymentConfirmed'; readonly data: DeepReadonly<PayloadOf<typeof PaymentConfirmed>> }
  | { readonly type: 'PaymentFailed'; readonly data: DeepReadonly<PayloadOf<typeof PaymentFailed>> }
  | { readonly type: 'PaymentRefunded'; readonly data: Refunded };
/** Payment-internal facts (stored with the payment, not published). */
export type InternalPaymentEvent =
  | {
      readonly type: 'BookingEndedBeforePayment';
      readonly data: { readonly booking_id: string; readonly because: BookingEnd; readonly at: string };
    }
  | {
      readonly type: 'PaymentVoided';
      readonly data: { readonly payment_id: string; readonly booking_id: string; readonly because: BookingEnd; readonly voided_at: string };
    }
  | {
      readonly type: 'RefundRequested';
      readonly data: {
        readonly payment_id: string;
        readonly booking_id: string;
        readonly amount: Money;
        readonly provider_reference: string;
        readonly because: RefundCause;
        readonly requested_at: string;
      };
    };
export type PaymentEvent = PublicPaymentEvent | InternalPaymentEvent;

export function isPublic(event: PaymentEvent): event is PublicPaymentEvent {
  return (
    event.type === 'PaymentInitiated' ||
    event.type === 'PaymentConfirmed' ||
    event.type === 'PaymentFailed' ||
    event.type === 'PaymentRefunded'
  );
}

// ── State ──────────────────────────────────────────────────────────────────────────────────────
export type PaymentState =
  | { readonly status: 'none' }
  | { readonly status: 'booking_ended'; readonly booking_id: string; readonly because: BookingEnd }
  | { readonly status: 'initiated'; readonly payment: Initiation }
  | { readonly status: 'confirmed'; readonly payment: Initiation; readonly provider_reference: string; readonly confirmed_at: string }
  | {
      readonly status: 'failed';
      readonly payment: Initiation;
      readonly reason_code: string;
      readonly reason: string;
      readonly failed_at: string;
    }
  | { readonly status: 'voided'; readonly payment: Initiation; readonly because: BookingEnd; readonly voided_at: string }
  | {
      readonly status: 'refund_pending';
      readonly payment: Initiation;
      readonly provider_reference: string;
      readonly because: RefundCause;
      readonly requested_at: string;
    }
  | {
      readonly status: 'refunded';
      readonly payment: Initiation;
      readonly provider_reference: string;
      readonly refund_reference: string;
      readonly refunded_at: string;
    };

export type PaymentStatus = PaymentState['status'];
export const NO_PAYMENT: PaymentState = { status: 'none' };

// ── Commands ───────────────────────────────────────────────────────────────────────────────────
/** From BookingReserved. */
export interface InitiatePayment {
  readonly type: 'InitiatePayment';
  readonly data: {
    readonly payment_id: string;
    readonly booking_id: string;
    readonly amount: Money;
    readonly provider: string;
    readonly now: string;
  };
}
/** The provider's callback (webhook): the outcome of the charge. */
export interface SettlePayment {
  readonly type: 'SettlePayment';
  readonly data: {
    readonly payment_id: string;
    readonly provider_reference: string;
    readonly outcome:
      { readonly status: 'succeeded' } | { readonly status: 'failed'; readonly reason_code: string; readonly reason: string };
    readonly now: string;
  };
}
/** From BookingCancelled (any reason) or ReservationExpired. */
export interface CloseForEndedBooking {
  readonly type: 'CloseForEndedBooking';
  readonly data: { readonly booking_id: string; readonly because: BookingEnd; readonly now: string };
}
/** The provider refunded a charge of the payment (the one that settled it, or an extra one). */
export interface RecordRefund {
  readonly type: 'RecordRefund';
  readonly data: {
    readonly payment_id: string;
    /** The charge refunded. */
    readonly provider_reference: string;
    readonly refund_reference: string;
    readonly amount: Money;
    readonly reason: RefundCause;
    readonly now: string;
  };
}
export type PaymentCommand = InitiatePayment | SettlePayment | CloseForEndedBooking | RecordRefund;

export type PaymentErrorCode = 'invalid_amount' | 'payment_not_found' | 'no_refund_pending' | 'payment_not_open';
export type PaymentDecision = Decision<PaymentEvent, PaymentErrorCode>;

export function decide(command: PaymentCommand, state: PaymentState): PaymentDecision {
  switch (command.type) {
    case 'InitiatePayment':
      return initiate(command.data, state);
    case 'SettlePayment':
      return settle(command.data, state);
    case 'CloseForEndedBooking':
      return close(command.data, state);
    case 'RecordRefund':
      return recordRefund(command.data, state);
    default:
      return assertNever(command);
  }
}

export function evolve(state: PaymentState, event: PaymentEvent): PaymentState {
  switch (event.type) {
    case 'PaymentInitiated':
      return state.status === 'none' ? { status: 'initiated', payment: event.data } : state;
    case 'PaymentConfirmed':
      return state.status === 'initiated'
        ? {
            status: 'confirmed',
            payment: state.payment,
            provider_reference: event.data.provider_reference,
            confirmed_at: event.data.confirmed_at,
          }
        : state;
    case 'PaymentFailed':
      return state.status === 'initiated'
        ? {
            status: 'failed',
            payment: state.payment,
            reason_code: event.data.reason_code,
            reason: event.data.reason,
            failed_at: event.data.failed_at,
          }
        : state;
    case 'BookingEndedBeforePayment':
      return state.status === 'none' ? { status: 'booking_ended', booking_id: event.data.booking_id, because: event.data.because } : state;
    case 'PaymentVoided':
      return state.status === 'initiated'
        ? { status: 'voided', payment: state.payment, because: event.data.because, voided_at: event.data.voided_at }
        : state;
    case 'RefundRequested':
      // A duplicate charge is refunded on the side: the payment keeps its status.
      return event.data.because !== 'duplicate_charge' &&
        (state.status === 'confirmed' || state.status === 'voided' || state.status === 'failed')
        ? {
            status: 'refund_pending',
            payment: state.payment,
            provider_reference: event.data.provider_reference,
            because: event.data.because,
            requested_at: event.data.requested_at,
          }
        : state;
    case 'PaymentRefunded':
      return state.status === 'refund_pending' && state.provider_reference === event.data.provider_reference
        ? {
            status: 'refunded',
            payment: state.payment,
            provider_reference: state.provider_reference,
            refund_reference: event.data.refund_reference,
            refunded_at: event.data.refunded_at,
          }
        : state;
    default:
      return assertNever(event);
  }
}

export function replay(events: readonly PaymentEvent[]): PaymentState {
  return events.reduce(evolve, NO_PAYMENT);
}

/** Whether the guest may pay now (the payment is open); the reason otherwise. */
export function chargeable(state: PaymentState): DomainError<'payment_not_found' | 'payment_not_open'> | undefined {
  switch (state.status) {
    case 'initiated':
      return undefined;
    case 'none':
    case 'booking_ended':
      return { code: 'payment_not_found', reason: 'there is no payment to make' };
    case 'voided':
      return {
        code: 'payment_not_open',
        reason: `the booking was ${state.because === 'booking_expired' ? 'not paid in time and expired' : 'cancelled'}; nothing to pay`,
      };
    default:
      return { code: 'payment_not_open', reason: `payment ${state.payment.payment_id} is already ${state.status}` };
  }
}

// ── Decisions ──────────────────────────────────────────────────────────────────────────────────

function initiate(c: InitiatePayment['data'], state: PaymentState): PaymentDecision {
  switch (state.status) {
    case 'none':
      if (!Number.isInteger(c.amount.amount_minor) || c.amount.amount_minor <= 0) {
        return reject({
          code: 'invalid_amount',
          reason: `booking ${c.booking_id} has nothing to pay (${c.amount.amount_minor} ${c.amount.currency})`,
        });
      }
      return accept<PaymentEvent>({
        type: 'PaymentInitiated',
        data: { payment_id: c.payment_id, booking_id: c.booking_id, amount: c.amount, provider: c.provider, initiated_at: c.now },
      });
    case 'booking_ended':
      return ignore(
        'booking_ended',
        `booking ${c.booking_id} was already ${state.because === 'booking_expired' ? 'expired' : 'cancelled'}; no payment is started`,
      );
    default:
      return ignore('already_initiated', `booking ${c.booking_id} already has payment ${state.payment.payment_id}`);
  }
}

function settle(c: SettlePayment['data'], state: PaymentState): PaymentDecision {
  if (state.status === 'none' || state.status === 'booking_ended' || state.payment.payment_id !== c.payment_id) {
    return reject({ code: 'payment_not_found', reason: `payment ${c.payment_id} does not exist` });
  }
  const p = state.payment;
  const succeeded = c.outcome.status === 'succeeded';
  const refund = (because: RefundCause) =>
    accept<PaymentEvent>({
      type: 'RefundRequested',
      data: {
        payment_id: p.payment_id,
        booking_id: p.booking_id,
        amount: p.amount,
        provider_reference: c.provider_reference,
        because,
        requested_at: c.now,
      },
    });
  switch (state.status) {
    case 'initiated':
      return c.outcome.status === 'succeeded'
        ? accept<PaymentEvent>({
            type: 'PaymentConfirmed',
            data: {
              payment_id: p.payment_id,
              booking_id: p.booking_id,
              amount: p.amount,
              provider_reference: c.provider_reference,
              confirmed_at: c.now,
            },
          })
        : accept<PaymentEvent>({
            type: 'PaymentFailed',
            data: {
              payment_id: p.payment_id,
              booking_id: p.booking_id,
              reason_code: c.outcome.reason_code,
              reason: c.outcome.reason,
              failed_at: c.now,
            },
          });
    case 'voided':
      // The charge was in flight when the booking ended: never confirm; give the money back.
      return succeeded ? refund(state.because) : ignore('already_voided', `payment ${p.payment_id} was voided when its booking ended`);
    case 'failed':
      // A success after a failure is a provider contradiction; the booking is cancelled, so refund.
      return succeeded ? refund('settled_after_failure') : ignore('already_settled', `payment ${p.payment_id} already failed`);
    case 'confirmed':
    case 'refund_pending':
    case 'refunded':
      // Another charge than the one that settled the payment took money: give it back.
      return succeeded && c.provider_reference !== state.provider_reference
        ? refund('duplicate_charge')
        : ignore('already_settled', `payment ${p.payment_id} is already ${state.status}`);
    default:
      return assertNever(state);
  }
}

function close(c: CloseForEndedBooking['data'], state: PaymentState): PaymentDecision {
  switch (state.status) {
    case 'none':
      return accept<PaymentEvent>({ type: 'BookingEndedBeforePayment', data: { booking_id: c.booking_id, because: c.because, at: c.now } });
    case 'initiated':
      return accept<PaymentEvent>({
        type: 'PaymentVoided',
        data: { payment_id: state.payment.payment_id, booking_id: c.booking_id, because: c.because, voided_at: c.now },
      });
    case 'confirmed':
      return accept<PaymentEvent>({
        type: 'RefundRequested',
        data: {
          payment_id: state.payment.payment_id,
          booking_id: c.booking_id,
          amount: state.payment.amount,
          provider_reference: state.provider_reference,
          because: c.because,
          requested_at: c.now,
        },
      });
    case 'booking_ended':
    case 'failed':
    case 'voided':
    case 'refund_pending':
    case 'refunded':
      return ignore('already_closed', `the payment of booking ${c.booking_id} is ${state.status}; nothing to close`);
    default:
      return assertNever(state);
  }
}

function recordRefund(c: RecordRefund['data'], state: PaymentState): PaymentDecision {
  if (state.status === 'none' || state.status === 'booking_ended' || state.payment.payment_id !== c.payment_id) {
    return reject({ code: 'no_refund_pending', reason: `payment ${c.payment_id} does not exist; nothing was refunded` });
  }
  if (state.status === 'refunded' && state.provider_reference === c.provider_reference) {
    return ignore('already_refunded', `charge ${c.provider_reference} of payment ${c.payment_id} was already refunded`);
  }
  const ownCharge = state.status === 'refund_pending' && state.provider_reference === c.provider_reference;
  if (!ownCharge && c.reason !== 'duplicate_charge') {
    return reject({
      code: 'no_refund_pending',
      reason: `payment ${c.payment_id} has no refund pending for charge ${c.provider_reference}`,
    });
  }
  return accept<PaymentEvent>({
    type: 'PaymentRefunded',
    data: {
      payment_id: c.payment_id,
      booking_id: state.payment.booking_id,
      amount: c.amount.amount_minor,
      currency: c.amount.currency,
      reason: c.reason,
      provider_reference: c.provider_reference,
      refund_reference: c.refund_reference,
      refunded_at: c.now,
    },
  });
}
