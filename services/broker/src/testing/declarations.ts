// Stand-in services for the broker's tests. The broker knows no business service (its composition
// root passes the real declarations), so its tests declare their own accounts from the shared event
// definitions: three publishers whose events cross, and one that subscribes to everything.
import type { EventDefinition } from '@albergue/events';
import {
  ALL_EVENTS,
  AlbergueCapacityChanged,
  AlbergueRegistered,
  AuditLogged,
  BookingCancelled,
  BookingConfirmed,
  BookingReserved,
  PaymentConfirmed,
  PaymentFailed,
  PaymentInitiated,
  ReservationExpired,
} from '@albergue/events';
import type { ServiceDeclaration } from '@albergue/messaging';
import { declareService } from '@albergue/messaging';

const handled = (events: readonly EventDefinition[]) => events.map((event) => ({ event, handler: `on${event.name}` }));

export const TEST_DECLARATIONS: readonly ServiceDeclaration[] = [
  declareService({ service: 'location', context: 'location', publishes: [AlbergueRegistered, AlbergueCapacityChanged], subscribes: [] }),
  declareService({
    service: 'booking',
    context: 'booking',
    publishes: [BookingReserved, BookingConfirmed, BookingCancelled, ReservationExpired],
    subscribes: handled([AlbergueRegistered, PaymentConfirmed, PaymentFailed]),
  }),
  declareService({
    service: 'payment',
    context: 'payment',
    publishes: [PaymentInitiated, PaymentConfirmed, PaymentFailed],
    subscribes: handled([BookingReserved, BookingCancelled, ReservationExpired]),
  }),
  declareService({
    service: 'audit',
    context: 'audit',
    publishes: [AuditLogged],
    subscribes: handled(ALL_EVENTS.filter((e) => e.name !== AuditLogged.name)),
  }),
];

/** The test declaration of `service`. */
export function testDeclaration(service: string): ServiceDeclaration {
  const found = TEST_DECLARATIONS.find((d) => d.service === service);
  if (!found) throw new Error(`no test declaration for ${service}`);
  return found;
}
