// The services this system runs, as they declare themselves: what each publishes and subscribes to.
// The composition roots hand this list to the broker (its MQTT accounts and ACL) and to the
// Mosquitto configuration generator, and `npm run catalog` generates docs/CATALOG.md from it; the
// broker itself knows no business service. A new service adds its declaration here when it is added
// to `npm start` and `start:services`, not before, so no account exists for a service that does not.
import { auditDeclaration } from '@albergue/audit/declaration';
import { bookingDeclaration } from '@albergue/booking/declaration';
import { documentsDeclaration } from '@albergue/documents/declaration';
import { gatewayDeclaration } from '@albergue/gateway/declaration';
import { locationDeclaration } from '@albergue/location/declaration';
import type { ServiceDeclaration } from '@albergue/messaging';
import { notificationsDeclaration } from '@albergue/notifications/declaration';
import { operationsDeclaration } from '@albergue/operations/declaration';
import { paymentDeclaration } from '@albergue/payment/declaration';

export const SYSTEM_DECLARATIONS: readonly ServiceDeclaration[] = [
  locationDeclaration,
  bookingDeclaration,
  paymentDeclaration,
  documentsDeclaration,
  gatewayDeclaration,
  notificationsDeclaration,
  operationsDeclaration,
  auditDeclaration,
];
