// Stand-in declarations of a whole system (the seven contexts, audit with a wildcard subscription),
// so the generator's tests do not depend on which services exist yet.
import { join, relative } from 'node:path';
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
  PaymentRefunded,
  RateLimitExceeded,
  ReservationExpired,
  eventSchema,
  schemaFileName,
} from '@albergue/events';
import { SAMPLE_PAYLOADS, SCHEMA_DIR } from '@albergue/events/node';
import type { ServiceDeclaration } from '@albergue/messaging';
import { declareService } from '@albergue/messaging';
import type { CatalogInput, ValueStream } from '../input.js';

const notify = [NotificationSent, NotificationFailed];
const notifyOn = (e: EventDefinition) => ({ event: e, handler: `notifyGuestOn${e.name}`, emits: notify });

export const FULL_SYSTEM: readonly ServiceDeclaration[] = [
  declareService({ service: 'location', context: 'location', publishes: [AlbergueRegistered, AlbergueCapacityChanged], subscribes: [] }),
  declareService({
    service: 'booking',
    context: 'booking',
    publishes: [BookingReserved, BookingConfirmed, BookingCancelled, ReservationExpired],
    subscribes: [
      { event: AlbergueRegistered, handler: 'updateInventoryOnAlbergueRegistered' },
      { event: AlbergueCapacityChanged, handler: 'updateInventoryOnCapacityChanged', policy: { maxAttempts: 10 } },
      { event: PaymentConfirmed, handler: 'confirmBookingOnPaymentConfirmed', emits: [BookingConfirmed, ReservationExpired] },
      { event: PaymentFailed, handler: 'cancelBookingOnPaymentFailed', emits: [BookingCancelled] },
    ],
    followUps: [{ after: BookingReserved, leadsTo: [ReservationExpired], via: 'the hold lapses' }],
  }),
  declareService({
    service: 'payment',
    context: 'payment',
    publishes: [PaymentInitiated, PaymentConfirmed, PaymentFailed, PaymentRefunded],
    subscribes: [{ event: BookingReserved, handler: 'initiatePaymentOnBookingReserved', emits: [PaymentInitiated] }],
    followUps: [{ after: PaymentInitiated, leadsTo: [PaymentConfirmed, PaymentFailed], via: 'the guest pays; the provider settles' }],
  }),
  declareService({ service: 'documents', context: 'documents', publishes: [DocumentValidated, DocumentRejected], subscribes: [] }),
  declareService({
    service: 'notifications',
    context: 'notifications',
    publishes: notify,
    subscribes: [BookingConfirmed, BookingCancelled, ReservationExpired, DocumentValidated, DocumentRejected].map(notifyOn),
  }),
  declareService({
    service: 'audit',
    context: 'audit',
    publishes: [AuditLogged],
    subscribes: [],
    subscribesAll: { filter: 'albergue/#', handler: 'recordOnAnyEvent', except: [AuditLogged], emits: [AuditLogged] },
  }),
  declareService({ service: 'gateway', context: 'gateway', publishes: [RateLimitExceeded], subscribes: [] }),
];

export const STREAMS: readonly ValueStream[] = [
  {
    name: 'reserve → pay → confirm → notify',
    startedBy: { actor: 'Guest', action: 'reserves (POST /bookings)' },
    milestones: [[BookingReserved], [PaymentConfirmed], [BookingConfirmed], notify],
  },
  {
    name: 'reserve → payment fails → cancel → notify',
    startedBy: { actor: 'Guest', action: 'reserves' },
    milestones: [[BookingReserved], [PaymentFailed], [BookingCancelled], notify],
  },
  {
    name: 'document submitted → validated/rejected → notify',
    startedBy: { actor: 'Guest', action: 'submits a document' },
    milestones: [[DocumentValidated, DocumentRejected], notify],
  },
  { name: 'any event → audit trail', startedBy: { actor: 'Any service', action: 'publishes' }, milestones: ['any', [AuditLogged]] },
];

/** A catalog input over `declarations`, whose schema links are relative to `dir`. */
export function catalogInput(
  declarations: readonly ServiceDeclaration[],
  dir = process.cwd(),
  overrides: Partial<CatalogInput> = {},
): CatalogInput {
  return {
    events: ALL_EVENTS,
    declarations,
    samplePayloads: SAMPLE_PAYLOADS,
    schemaOf: eventSchema,
    schemaLink: (def) => relative(dir, join(SCHEMA_DIR, schemaFileName(def))),
    http: {},
    streams: STREAMS,
    redisKeys: [{ pattern: 'mqtt:processed:<subscriber>:<topic>', type: 'ZSET', holds: 'processed ids', owner: '@albergue/messaging' }],
    tables: [{ owner: 'test', origin: 'migration 1', sql: 'CREATE TABLE t (id integer PRIMARY KEY, -- the id\n  name text NOT NULL)' }],
    accounts: [{ username: 'booking', clientIdPrefix: 'albergue-booking-', publish: ['albergue/booking/#'], subscribe: [] }],
    server: { host: '127.0.0.1:1884', description: 'test broker' },
    ...overrides,
  };
}
