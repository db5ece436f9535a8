// What each service publishes and subscribes to (ARCHITECTURE §1). Services that exist export their
// own declaration (`@albergue/<service>/declaration`); the others are declared here until they land.
// The broker's ACL and the Mosquitto configuration are derived from this list.
import type { ServiceDeclaration } from '@albergue/messaging';
import { declareService } from '@albergue/messaging';
import { bookingDeclaration } from '@albergue/booking/declaration';
import { locationDeclaration } from '@albergue/location/declaration';
import { paymentDeclaration } from '@albergue/payment/declaration';
import type { EventDefinition } from '@albergue/events';
import {
  ALL_EVENTS,
  AuditLogged,
  BookingCancelled,
  BookingConfirmed,
  DocumentRejected,
  DocumentValidated,
  NotificationFailed,
  NotificationSent,
  PaymentConfirmed,
  RateLimitExceeded,
  ReservationExpired,
} from '@albergue/events';

const on = (event: EventDefinition, action: string) => ({ event, handler: `${action}On${event.name}` });

// The services that exist declare themselves; their declarations are the single source.
export const locationService = locationDeclaration;
export const bookingService = bookingDeclaration;
export const paymentService = paymentDeclaration;

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
