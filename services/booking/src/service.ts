import type { Clock } from '@albergue/application';
import { decisionLog, systemClock, uuidV7Ids } from '@albergue/application';
import { AlbergueCapacityChanged, AlbergueRegistered, PaymentConfirmed, PaymentFailed } from '@albergue/events';
import { envInt } from '@albergue/platform';
import type { ServiceRuntime, ServiceRuntimeOptions } from '@albergue/runtime';
import { createServiceRuntime } from '@albergue/runtime';
import { httpApi } from './http.js';
import { BOOKING_MIGRATIONS } from './adapters/postgres/migrations.js';
import { PgBookingQueries } from './adapters/postgres/pg-booking-queries.js';
import { PgBookingRepository } from './adapters/postgres/pg-booking-repository.js';
import { cancelBookingOnPaymentFailed } from './application/cancel-for-failed-payment.js';
import { confirmBookingOnPaymentConfirmed } from './application/confirm-booking.js';
import { expireDueReservations } from './application/expire-reservation.js';
import type { BookingConfig } from './application/ports.js';
import { DEFAULT_BOOKING_CONFIG } from './application/ports.js';
import { updateInventoryOnAlbergueRegistered, updateInventoryOnCapacityChanged } from './application/update-inventory.js';
import { bookingDeclaration } from './declaration.js';

export interface BookingServiceOptions extends Partial<Pick<ServiceRuntimeOptions, 'env' | 'config' | 'logger' | 'ledger' | 'relay'>> {
  readonly clock?: Clock;
}

/**
 * The booking service wired: Postgres adapters, its event handlers (each in the inbox transaction),
 * HTTP routes, and the hold-expiry sweep (BOOKING_EXPIRY_SWEEP_MS, safe with several instances:
 * each expiry re-checks its booking under lock).
 */
export async function createBookingService(o: BookingServiceOptions = {}): Promise<ServiceRuntime> {
  const env = o.env ?? process.env;
  const rt = await createServiceRuntime({
    ...o,
    declaration: bookingDeclaration,
    defaultPort: 8102,
    migrations: BOOKING_MIGRATIONS,
    description: 'Bookings, the bed inventory per albergue per night, reservation holds.',
  });
  const clock = o.clock ?? systemClock;
  const decisions = decisionLog(rt.logger, rt.metrics);
  const config: BookingConfig = {
    ...DEFAULT_BOOKING_CONFIG,
    holdMs: envInt('BOOKING_HOLD_MS', DEFAULT_BOOKING_CONFIG.holdMs, { min: 1000 }, env),
  };
  const repo = new PgBookingRepository(rt.db, rt.outbox);
  const queries = new PgBookingQueries(rt.db);

  rt.on(AlbergueRegistered, 'updateInventoryOnAlbergueRegistered', async (ctx, tx) =>
    updateInventoryOnAlbergueRegistered(repo.forTransaction(tx), ctx.event),
  );
  rt.on(AlbergueCapacityChanged, 'updateInventoryOnCapacityChanged', async (ctx, tx) =>
    updateInventoryOnCapacityChanged(repo.forTransaction(tx), ctx.event),
  );
  rt.on(PaymentConfirmed, 'confirmBookingOnPaymentConfirmed', async (ctx, tx) => {
    await confirmBookingOnPaymentConfirmed({ clock, decisions }, repo.forTransaction(tx), ctx.event);
  });
  rt.on(PaymentFailed, 'cancelBookingOnPaymentFailed', async (ctx, tx) => {
    await cancelBookingOnPaymentFailed({ clock, decisions }, repo.forTransaction(tx), ctx.event);
  });
  rt.every('expire-reservations', envInt('BOOKING_EXPIRY_SWEEP_MS', 1000, { min: 50 }, env), () =>
    expireDueReservations({ repo, clock, decisions }),
  );

  await rt.http.register(httpApi({ repo, queries, clock, ids: uuidV7Ids, config }));
  return rt;
}
