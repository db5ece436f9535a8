// @albergue/booking: bookings, the bed inventory per albergue per night, reservation holds.
export * from './domain/booking.js';
export * from './domain/inventory.js';
export * from './application/ports.js';
export { bookingView } from './application/support.js';
export * from './application/reserve-booking.js';
export * from './application/cancel-booking.js';
export * from './application/confirm-booking.js';
export * from './application/cancel-for-failed-payment.js';
export * from './application/expire-reservation.js';
export * from './application/update-inventory.js';
export * from './application/queries.js';
export { MemoryBookingStore } from './adapters/memory/memory-booking-store.js';
export { PgBookingRepository } from './adapters/postgres/pg-booking-repository.js';
export { PgBookingQueries } from './adapters/postgres/pg-booking-queries.js';
export { BOOKING_MIGRATIONS } from './adapters/postgres/migrations.js';
export { bookingRoutes, statusOf as bookingErrorStatus } from './adapters/http/routes.js';
export type { BookingHttpDeps } from './adapters/http/routes.js';
