import {
  BookingCancelled,
  BookingConfirmed,
  BookingReserved,
  DocumentRejected,
  DocumentValidated,
  NotificationFailed,
  NotificationSent,
  PaymentConfirmed,
  PaymentFailed,
  PaymentRefunded,
  ReservationExpired,
} from '@albergue/events';
import type { SubscriptionPolicy } from '@albergue/messaging';
import { declareService } from '@albergue/messaging';

/**
 * The retry budget of a message to a guest: 8 attempts, backoff 1 s doubling up to 60 s (a contact
 * that is not known yet, or an SMTP server that is down, gets about two minutes of retries before the
 * last attempt; then an SMTP failure goes to the DLQ, replayable), the breaker opening after 5
 * failures in 30 s for 15 s. Redelivery horizon 8 × 60 s + 30 s = 510 s, well inside the 24 h dedup window.
 */
export const NOTIFY_POLICY: Partial<SubscriptionPolicy> = {
  maxAttempts: 8,
  backoff: { initialMs: 1000, maxMs: 60_000, multiplier: 2, jitter: 0.2 },
  breaker: { failureThreshold: 5, windowMs: 30_000, openMs: 15_000 },
};

/** What a message handler records: the message sent, or failed for good (an event it ignores records nothing). */
const NOTIFY = [NotificationSent, NotificationFailed];

/**
 * What notifications publishes and subscribes to: the runtime, the broker's ACL and the catalog read
 * it. BookingReserved is subscribed to as well, beyond ARCHITECTURE §1's list: it is the one event that
 * carries the guest's contact (see docs/notifications.md).
 */
export const notificationsDeclaration = declareService({
  service: 'notifications',
  context: 'notifications',
  publishes: [NotificationSent, NotificationFailed],
  subscribes: [
    // Remembers the guest's contact and the booking's facts: it sends nothing and emits nothing.
    { event: BookingReserved, handler: 'rememberContactOnBookingReserved' },
    { event: BookingConfirmed, handler: 'notifyGuestOnBookingConfirmed', policy: NOTIFY_POLICY, emits: NOTIFY },
    { event: BookingCancelled, handler: 'notifyGuestOnBookingCancelled', policy: NOTIFY_POLICY, emits: NOTIFY },
    { event: ReservationExpired, handler: 'notifyGuestOnReservationExpired', policy: NOTIFY_POLICY, emits: NOTIFY },
    { event: PaymentConfirmed, handler: 'notifyGuestOnPaymentConfirmed', policy: NOTIFY_POLICY, emits: NOTIFY },
    { event: PaymentFailed, handler: 'notifyGuestOnPaymentFailed', policy: NOTIFY_POLICY, emits: NOTIFY },
    { event: PaymentRefunded, handler: 'notifyGuestOnPaymentRefunded', policy: NOTIFY_POLICY, emits: NOTIFY },
    { event: DocumentValidated, handler: 'notifyGuestOnDocumentValidated', policy: NOTIFY_POLICY, emits: NOTIFY },
    { event: DocumentRejected, handler: 'notifyGuestOnDocumentRejected', policy: NOTIFY_POLICY, emits: NOTIFY },
  ],
});
