// @albergue/booking: bookings, the bed inventory per albergue per night, reservation holds.
export * from './domain/booking';
export * from './domain/inventory';
export * from './application/ports';
export { bookingView } from './application/support';
export * from './application/reserve-booking';
export * from './application/cancel-booking';
export * from './application/confirm-booking';
export * from './application/cancel-for-failed-payment';
export * from './application/expire-reservation';
export * from './application/update-inventory';
export * from './application/queries';
export { MemoryBookingStore } from './adapters/memory/memory-booking-store';
export { PgBookingRepository } from './adapters/postgres/pg-booking-repository';
export { PgBookingQueries } from './adapters/postgres/pg-booking-queries';
export { BOOKING_MIGRATIONS } from './adapters/postgres/migrations';
export { bookingRoutes, statusOf as bookingErrorStatus } from './adapters/http/routes';
export type { BookingHttpDeps } from './adapters/http/routes';
