import { BookingCancelled, BookingReserved, ReservationExpired, newEventId } from '@albergue/events';
import { ConfigError, envInt, envOptional } from '@albergue/platform';
import type { ServiceRuntime, ServiceRuntimeOptions } from '@albergue/runtime';
import { createServiceRuntime } from '@albergue/runtime';
import { paymentRoutes } from './adapters/http/routes';
import { PAYMENT_MIGRATIONS } from './adapters/postgres/migrations';
import { PgPaymentQueries } from './adapters/postgres/pg-payment-queries';
import { PgPaymentRepository } from './adapters/postgres/pg-payment-repository';
import { httpCallbackDeliverer } from './adapters/provider/http-callback';
import { SimulatedCardNetwork } from './adapters/provider/simulated-card-network';
import { closePaymentOnBookingCancelled, closePaymentOnReservationExpired } from './application/close-payment';
import { initiatePaymentOnBookingReserved } from './application/initiate-payment';
import type { Clock, ProviderSettlement } from './application/ports';
import { refundPendingPayments } from './application/refund-payment';
import { paymentDeclaration } from './declaration';

export const DEV_CALLBACK_SECRET = 'albergue-dev-callback-secret';

export interface PaymentServiceOptions extends Partial<Pick<ServiceRuntimeOptions, 'env' | 'config' | 'logger' | 'ledger' | 'relay'>> {
  readonly clock?: Clock;
}

/**
 * The payment service wired: Postgres adapters, its event handlers (each in the inbox transaction),
 * HTTP routes, the simulated card network (settling through the signed HTTP callback, like a real
 * provider's webhook) and the refund sweep. PAYMENT_SIM_LATENCY_MS and PAYMENT_SIM_FAILURE_RATE
 * tune the simulator; PAYMENT_CALLBACK_SECRET signs callbacks (required with NODE_ENV=production).
 */
export async function createPaymentService(o: PaymentServiceOptions = {}): Promise<ServiceRuntime> {
  const env = o.env ?? process.env;
  const secret = envOptional('PAYMENT_CALLBACK_SECRET', env);
  if (secret === undefined && env.NODE_ENV === 'production') throw new ConfigError('set PAYMENT_CALLBACK_SECRET (the development secret is refused with NODE_ENV=production)');
  const callbackSecret = secret ?? DEV_CALLBACK_SECRET;
  const failurePercent = envInt('PAYMENT_SIM_FAILURE_PERCENT', 0, { min: 0, max: 100 }, env);

  const rt = await createServiceRuntime({
    ...o,
    declaration: paymentDeclaration,
    defaultPort: 8103,
    migrations: PAYMENT_MIGRATIONS,
    description: 'Payments of bookings through a provider; the provider settles through a signed callback.',
  });
  const clock = o.clock ?? { now: () => new Date() };
  // The provider calls back this service's own public callback endpoint, known once it listens.
  let deliver: ((s: ProviderSettlement) => Promise<void>) | undefined;
  const provider = new SimulatedCardNetwork({
    deliver: (s) => (deliver ? deliver(s) : Promise.reject(new Error('payment service not listening yet'))),
    latencyMs: envInt('PAYMENT_SIM_LATENCY_MS', 200, { min: 0 }, env),
    failureRate: failurePercent / 100,
    onUndelivered: (s, err) => rt.logger.error({ err, payment_id: s.payment_id }, 'settlement could not be delivered'),
  });
  const repo = new PgPaymentRepository(rt.db, rt.outbox);
  const queries = new PgPaymentQueries(rt.db);

  rt.on(BookingReserved, 'initiatePaymentOnBookingReserved', async (ctx, tx) => {
    await initiatePaymentOnBookingReserved({ clock, ids: newEventId, provider }, repo.forTransaction(tx), ctx.event);
  });
  rt.on(BookingCancelled, 'closePaymentOnBookingCancelled', async (ctx, tx) => {
    await closePaymentOnBookingCancelled({ clock, provider }, repo.forTransaction(tx), ctx.event);
  });
  rt.on(ReservationExpired, 'closePaymentOnReservationExpired', async (ctx, tx) => {
    await closePaymentOnReservationExpired({ clock, provider }, repo.forTransaction(tx), ctx.event);
  });
  rt.every('refund-payments', envInt('PAYMENT_REFUND_SWEEP_MS', 2000, { min: 50 }, env), () => refundPendingPayments({ repo, clock, provider }));

  await rt.http.register(paymentRoutes({ repo, queries, clock, provider, callbackSecret }));

  const start = rt.start.bind(rt);
  const close = rt.close.bind(rt);
  return Object.assign(rt, {
    async start() {
      const url = await start();
      deliver = httpCallbackDeliverer({ url: `${url}/payments/callback`, secret: callbackSecret });
      return url;
    },
    async close() {
      provider.close?.();
      await close();
    },
  });
}
