// Which message an event asks for, and the notification decider: a notification is recorded once,
// as sent or as failed. `decide(command, state) → events`, `evolve(state, event) → state`; pure.
import type {
  BookingCancelled,
  BookingConfirmed,
  DeepReadonly,
  DocumentRejected,
  DocumentValidated,
  NotificationFailed,
  NotificationSent,
  PaymentConfirmed,
  PaymentFailed,
  PaymentRefunded,
  PayloadOf,
  ReservationExpired,
} from '@albergue/events';
import type { Decision, DomainError } from '@albergue/decider';
import { accept, assertNever, ignore } from '@albergue/decider';
import type { BookingFacts, TemplateName, TemplateVars } from './templates.js';

type P<D> = DeepReadonly<PayloadOf<D>>;

/** The events that may tell a guest something. */
export type Trigger =
  | { readonly type: 'BookingConfirmed'; readonly data: P<typeof BookingConfirmed> }
  | { readonly type: 'BookingCancelled'; readonly data: P<typeof BookingCancelled> }
  | { readonly type: 'ReservationExpired'; readonly data: P<typeof ReservationExpired> }
  | { readonly type: 'PaymentConfirmed'; readonly data: P<typeof PaymentConfirmed> }
  | { readonly type: 'PaymentFailed'; readonly data: P<typeof PaymentFailed> }
  | { readonly type: 'PaymentRefunded'; readonly data: P<typeof PaymentRefunded> }
  | { readonly type: 'DocumentValidated'; readonly data: P<typeof DocumentValidated> }
  | { readonly type: 'DocumentRejected'; readonly data: P<typeof DocumentRejected> };

/** Whom a trigger is about: its booking (booking and payment events; documents when they name one) and/or its guest (documents). */
export interface RecipientRef {
  readonly booking_id?: string | undefined;
  readonly guest_id?: string | undefined;
}

export function recipientRefOf(t: Trigger): RecipientRef {
  switch (t.type) {
    case 'DocumentValidated':
    case 'DocumentRejected':
      return { booking_id: t.data.booking_id, guest_id: t.data.guest_id };
    default:
      return { booking_id: t.data.booking_id };
  }
}

/** A message to send: the template and its variables (one union member per template). */
export type PlannedMessage = { readonly [T in TemplateName]: { readonly template: T; readonly vars: TemplateVars[T] } }[TemplateName];

export type Plan =
  { readonly kind: 'message'; readonly message: PlannedMessage } | { readonly kind: 'silent'; readonly reason: DomainError };

/**
 * The message a trigger asks for, with what is known of its booking (`booking`: from BookingReserved;
 * absent, the trigger's own ids). One flow tells the guest its outcome once: a confirmed booking is
 * told by BookingConfirmed (PaymentConfirmed is silent), a declined card by PaymentFailed (the
 * BookingCancelled with reason payment_failed that follows it is silent).
 */
export function planNotification(t: Trigger, booking?: BookingFacts): Plan {
  const facts = (booking_id: string, albergue_id?: string): BookingFacts =>
    booking && booking.booking_id === booking_id ? booking : { booking_id, albergue_id: albergue_id ?? booking?.albergue_id ?? '' };
  const message = (m: PlannedMessage): Plan => ({ kind: 'message', message: m });
  switch (t.type) {
    case 'BookingConfirmed':
      return message({ template: 'booking_confirmed', vars: { booking: facts(t.data.booking_id, t.data.albergue_id) } });
    case 'ReservationExpired':
      return message({
        template: 'reservation_expired',
        vars: { booking: facts(t.data.booking_id, t.data.albergue_id), hold_expires_at: t.data.hold_expires_at },
      });
    case 'BookingCancelled':
      if (t.data.reason === 'payment_failed')
        return {
          kind: 'silent',
          reason: {
            code: 'told_by_payment_failed',
            reason: 'a booking cancelled because its payment failed is told by the PaymentFailed message',
          },
        };
      return message({
        template: 'booking_cancelled',
        vars: { booking: facts(t.data.booking_id, t.data.albergue_id), reason: t.data.reason },
      });
    case 'PaymentConfirmed':
      return {
        kind: 'silent',
        reason: { code: 'told_by_booking_confirmed', reason: 'a settled payment is told by the BookingConfirmed message' },
      };
    case 'PaymentFailed':
      return message({ template: 'payment_failed', vars: { booking: facts(t.data.booking_id), reason_code: t.data.reason_code } });
    case 'PaymentRefunded':
      return message({
        template: 'payment_refunded',
        vars: {
          booking: facts(t.data.booking_id),
          amount: { amount_minor: t.data.amount, currency: t.data.currency },
          reason: t.data.reason,
        },
      });
    case 'DocumentValidated':
      return message({
        template: 'document_validated',
        vars: {
          document_type: t.data.document_type,
          document_number_masked: t.data.document_number_masked,
          expires_on: t.data.expires_on,
          booking_id: t.data.booking_id,
        },
      });
    case 'DocumentRejected':
      return message({
        template: 'document_rejected',
        vars: { document_type: t.data.document_type, reasons: t.data.reasons, booking_id: t.data.booking_id },
      });
    default:
      return assertNever(t);
  }
}

// The notification decider.

export type NotificationEvent =
  | { readonly type: 'NotificationSent'; readonly data: P<typeof NotificationSent> }
  | { readonly type: 'NotificationFailed'; readonly data: P<typeof NotificationFailed> };

export type NotificationState =
  | { readonly status: 'none' }
  | { readonly status: 'sent'; readonly notification: P<typeof NotificationSent> }
  | { readonly status: 'failed'; readonly notification: P<typeof NotificationFailed> };

export const NO_NOTIFICATION: NotificationState = { status: 'none' };

export interface RecordSent {
  readonly type: 'RecordSent';
  readonly data: P<typeof NotificationSent>;
}

export interface RecordFailed {
  readonly type: 'RecordFailed';
  readonly data: P<typeof NotificationFailed>;
}

export type NotificationCommand = RecordSent | RecordFailed;

/** Reasons a notification fails for good (NotificationFailed.error starts with one). */
export type FailureReason = 'no_contact' | 'contact_forgotten' | 'smtp_rejected';

/** A notification is recorded once: the first outcome stands, a second one is a no-op. */
export function decide(command: NotificationCommand, state: NotificationState): Decision<NotificationEvent> {
  if (state.status !== 'none')
    return ignore('already_recorded', `notification ${command.data.notification_id} was already recorded as ${state.status}`);
  switch (command.type) {
    case 'RecordSent':
      return accept({ type: 'NotificationSent', data: command.data });
    case 'RecordFailed':
      return accept({ type: 'NotificationFailed', data: { ...command.data, error: command.data.error.slice(0, 1000) } });
    default:
      return assertNever(command);
  }
}

export function evolve(_state: NotificationState, event: NotificationEvent): NotificationState {
  switch (event.type) {
    case 'NotificationSent':
      return { status: 'sent', notification: event.data };
    case 'NotificationFailed':
      return { status: 'failed', notification: event.data };
    default:
      return assertNever(event);
  }
}
