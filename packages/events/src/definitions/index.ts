import { AuditLogged } from './audit.js';
import { BookingCancelled, BookingConfirmed, BookingReserved, ReservationExpired } from './booking.js';
import { DocumentRejected, DocumentValidated } from './documents.js';
import { RateLimitExceeded } from './gateway.js';
import { AlbergueCapacityChanged, AlbergueRegistered } from './location.js';
import { NotificationFailed, NotificationSent } from './notifications.js';
import { PaymentConfirmed, PaymentFailed, PaymentInitiated, PaymentRefunded } from './payment.js';

export * from './audit.js';
export * from './booking.js';
export * from './documents.js';
export * from './gateway.js';
export * from './location.js';
export * from './notifications.js';
export * from './payment.js';

/** Every published event definition, every version. Add a definition here and everything follows. */
export const ALL_EVENTS = [
  AlbergueRegistered,
  AlbergueCapacityChanged,
  BookingReserved,
  BookingConfirmed,
  BookingCancelled,
  ReservationExpired,
  PaymentInitiated,
  PaymentConfirmed,
  PaymentFailed,
  PaymentRefunded,
  DocumentValidated,
  DocumentRejected,
  NotificationSent,
  NotificationFailed,
  AuditLogged,
  RateLimitExceeded,
] as const;

export type AnyEventDefinition = (typeof ALL_EVENTS)[number];
