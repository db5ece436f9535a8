import { AuditLogged } from './audit';
import { BookingCancelled, BookingConfirmed, BookingReserved, ReservationExpired } from './booking';
import { DocumentRejected, DocumentValidated } from './documents';
import { RateLimitExceeded } from './gateway';
import { AlbergueCapacityChanged, AlbergueRegistered } from './location';
import { NotificationFailed, NotificationSent } from './notifications';
import { PaymentConfirmed, PaymentFailed, PaymentInitiated, PaymentRefunded } from './payment';

export * from './audit';
export * from './booking';
export * from './documents';
export * from './gateway';
export * from './location';
export * from './notifications';
export * from './payment';

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
