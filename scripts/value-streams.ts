// The value streams of ARCHITECTURE §1, as the catalog draws them: a name, who starts the stream, and
// its milestones (each one or more alternative events). Everything between two milestones — which
// service handles what and what it emits — is found in the service declarations (handlers' `emits`,
// services' `followUps`), so this list names only what a reader looks for.
import type { ValueStream } from '@albergue/catalog';
import {
  BookingCancelled,
  BookingConfirmed,
  BookingReserved,
  DocumentRejected,
  DocumentValidated,
  NotificationFailed,
  NotificationSent,
  AuditLogged,
  PaymentConfirmed,
  PaymentFailed,
  ReservationExpired,
} from '@albergue/events';

const notify = [NotificationSent, NotificationFailed];
const reserve = { actor: 'Guest', action: 'reserves beds (POST /bookings)' };

export const VALUE_STREAMS: readonly ValueStream[] = [
  {
    name: 'reserve → pay → confirm → notify',
    startedBy: reserve,
    milestones: [[BookingReserved], [PaymentConfirmed], [BookingConfirmed], notify],
  },
  { name: 'reserve → hold expires → notify', startedBy: reserve, milestones: [[BookingReserved], [ReservationExpired], notify] },
  {
    name: 'reserve → payment fails → cancel → notify',
    startedBy: reserve,
    milestones: [[BookingReserved], [PaymentFailed], [BookingCancelled], notify],
  },
  {
    name: 'document submitted → validated/rejected → notify',
    startedBy: { actor: 'Guest', action: 'submits an identity document (POST /documents)' },
    milestones: [[DocumentValidated, DocumentRejected], notify],
  },
  {
    name: 'any event → audit trail',
    startedBy: { actor: 'Any service', action: 'publishes an event' },
    milestones: ['any', [AuditLogged]],
  },
];
