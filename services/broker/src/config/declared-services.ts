// What each service publishes and subscribes to (ARCHITECTURE §1), declared here until the services
// exist and export their own declarations; the broker's ACL and the Mosquitto configuration are
// derived from this list. Replace entries with the services' real declarations as they land.
import type { ServiceDeclaration } from '@albergue/messaging';
import { declareService } from '@albergue/messaging';
import type { EventDefinition } from '@albergue/events';
import {
  ALL_EVENTS,
  AlbergueCapacityChanged,
  AlbergueRegistered,
  AuditLogged,
  BookingCancelled,
  BookingConfirmed,
  BookingReserved,
  DocumentRejected,
  DocumentValidated,
  NotificationFailed,
  NotificationSent,
  PaymentConfirmed,
  PaymentFailed,
  PaymentInitiated,
  RateLimitExceeded,
  ReservationExpired,
} from '@albergue/events';

const on = (event: EventDefinition, action: string) => ({ event, handler: `${action}On${event.name}` });

export const locationService = declareService({
  service: 'location',
  context: 'location',
  publishes: [AlbergueRegistered, AlbergueCapacityChanged],
  subscribes: [],
});

export const bookingService = declareService({
  service: 'booking',
  context: 'booking',
  publishes: [BookingReserved, BookingConfirmed, BookingCancelled, ReservationExpired],
  subscribes: [
    on(AlbergueRegistered, 'addAlbergue'),
    on(AlbergueCapacityChanged, 'updateCapacity'),
    on(PaymentConfirmed, 'confirmBooking'),
    on(PaymentFailed, 'cancelBooking'),
  ],
});

export const paymentService = declareService({
  service: 'payment',
  context: 'payment',
  publishes: [PaymentInitiated, PaymentConfirmed, PaymentFailed],
  subscribes: [
    on(BookingReserved, 'initiatePayment'),
    on(BookingCancelled, 'voidPayment'),
    on(ReservationExpired, 'voidPayment'),
  ],
});

export const documentsService = declareService({
  service: 'documents',
  context: 'documents',
  publishes: [DocumentValidated, DocumentRejected],
  subscribes: [],
});

export const notificationsService = declareService({
  service: 'notifications',
  context: 'notifications',
  publishes: [NotificationSent, NotificationFailed],
  subscribes: [
    on(BookingConfirmed, 'sendConfirmation'),
    on(BookingCancelled, 'sendCancellation'),
    on(ReservationExpired, 'sendExpiryNotice'),
    on(PaymentConfirmed, 'sendReceipt'),
    on(DocumentValidated, 'sendDocumentAccepted'),
    on(DocumentRejected, 'sendDocumentRejected'),
  ],
});

/** Audit records every albergue event except its own (which would loop). */
export const auditService = declareService({
  service: 'audit',
  context: 'audit',
  publishes: [AuditLogged],
  subscribes: ALL_EVENTS.filter((e) => e.name !== AuditLogged.name).map((e) => on(e, 'record')),
});

export const gatewayService = declareService({
  service: 'gateway',
  context: 'gateway',
  publishes: [RateLimitExceeded],
  subscribes: [],
});

export const DECLARED_SERVICES: readonly ServiceDeclaration[] = [
  locationService,
  bookingService,
  paymentService,
  documentsService,
  notificationsService,
  auditService,
  gatewayService,
];
