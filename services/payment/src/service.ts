import { Counter, Gauge } from 'prom-client';
import type { Clock } from '@albergue/application';
import { decisionLog, systemClock, uuidV7Ids } from '@albergue/application';
import { BookingCancelled, BookingReserved, ReservationExpired } from '@albergue/events';
import { ConfigError, envInt, envOptional } from '@albergue/platform';
import type { ServiceRuntime, ServiceRuntimeOptions } from '@albergue/runtime';
import { createServiceRuntime } from '@albergue/runtime';
import { PAYMENT_MIGRATIONS } from './adapters/postgres/migrations.js';
import { PgPaymentQueries } from './adapters/postgres/pg-payment-queries.js';
import { PgPaymentRepository } from './adapters/postgres/pg-payment-repository.js';
import { httpCallbackDeliverer } from './adapters/provider/http-callback.js';
import { SIMULATED_CARD_NETWORK_MIGRATIONS, SimulatedCardNetwork } from './adapters/provider/simulated-card-network.js';
import { closePaymentOnBookingCancelled, closePaymentOnReservationExpired } from './application/close-payment.js';
import { initiatePaymentOnBookingReserved } from './application/initiate-payment.js';
import { PaymentWaiters } from './application/payment-waiters.js';
import type { PaymentProvider, ProviderSettlement } from './application/ports.js';
import { reconcileChargeAttempts } from './application/reconcile-charges.js';
import type { RefundDeps } from './application/refund-payment.js';
import { refundPendingPayments } from './application/refund-payment.js';
import { paymentDeclaration } from './declaration.js';
import { httpApi } from './http.js';

export const DEV_CALLBACK_SECRET = 'albergue-dev-callback-secret';

type Deliver = (s: ProviderSettlement) => Promise<void>;

export interface PaymentServiceOptions extends Partial<Pick<ServiceRuntimeOptions, 'env' | 'config' | 'logger' | 'ledger' | 'relay'>> {
  readonly clock?: Clock;
  /** Tests: wrap the simulated card network (e.g. to make refunds or lookups fail). */
  readonly wrapProvider?: (network: SimulatedCardNetwork) => PaymentProvider;
  /** Tests: wrap the network's callback delivery (e.g. to make it fail). */
  readonly wrapDeliver?: (deliver: Deliver) => Deliver;
}

export interface PaymentService extends ServiceRuntime {
  /** The simulated card network this service charges through (tests, the demo). */
  readonly network: SimulatedCardNetwork;
}

/**
 * The payment service wired: Postgres adapters, its event handlers (each in the inbox transaction),
 * HTTP routes (payments, the provider callback, refunds for operators), the simulated card network
 * (its own tables in this database, settling through the signed HTTP callback like a real
 * provider's webhook), the recovery sweep (asks the provider about charge attempts without an
 * outcome) and the refund sweep.
 *
 * Environment: PAYMENT_CALLBACK_SECRET (required with NODE_ENV=production); the simulator's
 * PAYMENT_SIM_LATENCY_MS, PAYMENT_SIM_ANSWER_DELAY_MS, PAYMENT_SIM_FAILURE_PERCENT,
 * PAYMENT_SIM_CALLBACK_RETRY_MS; PAYMENT_RECONCILE_SWEEP_MS, PAYMENT_RECONCILE_AFTER_MS,
 * PAYMENT_ABANDON_AFTER_MS; PAYMENT_MAX_WAITERS (long-polls of `?wait=` at a time, default 1000),
 * PAYMENT_WAIT_RECHECK_MS (a long-poll re-reads at least this often, default 1000); PAYMENT_REFUND_SWEEP_MS, PAYMENT_REFUND_MAX_ATTEMPTS,
 * PAYMENT_REFUND_RETRY_BASE_MS, PAYMENT_REFUND_RETRY_MAX_MS.
 */
export async function createPaymentService(o: PaymentServiceOptions = {}): Promise<PaymentService> {
  const env = o.env ?? process.env;
  const secret = envOptional('PAYMENT_CALLBACK_SECRET', env);
  if (secret === undefined && env.NODE_ENV === 'production')
    throw new ConfigError('set PAYMENT_CALLBACK_SECRET (the development secret is refused with NODE_ENV=production)');
  const callbackSecret = secret ?? DEV_CALLBACK_SECRET;
  const failurePercent = envInt('PAYMENT_SIM_FAILURE_PERCENT', 0, { min: 0, max: 100 }, env);
  const latencyMs = envInt('PAYMENT_SIM_LATENCY_MS', 200, { min: 0 }, env);
  const callbackRetryMs = envInt('PAYMENT_SIM_CALLBACK_RETRY_MS', Math.max(latencyMs, 250), { min: 1 }, env);
  const reconcileAfterMs = envInt('PAYMENT_RECONCILE_AFTER_MS', 10_000, { min: 1 }, env);
  const abandonAfterMs = envInt('PAYMENT_ABANDON_AFTER_MS', 60_000, { min: 1 }, env);

  const rt = await createServiceRuntime({
    ...o,
    declaration: paymentDeclaration,
    defaultPort: 8103,
    migrations: [...PAYMENT_MIGRATIONS, ...SIMULATED_CARD_NETWORK_MIGRATIONS],
    description: 'Payments of bookings through a provider; the provider settles through a signed callback.',
  });
  const clock = o.clock ?? systemClock;
  const log = rt.logger;
  const decisions = decisionLog(log, rt.metrics);

  const refundFailures = new Counter({
    name: 'payment_refund_failures_total',
    help: 'Refund provider calls that failed; final="true" when the refund ran out of retries and waits for an operator.',
    labelNames: ['final'] as const,
    registers: [rt.metrics],
  });
  const callbackFailures = new Counter({
    name: 'payment_callback_delivery_failures_total',
    help: 'Settlement callback deliveries of the simulated card network that failed.',
    registers: [rt.metrics],
  });
  const reconciled = new Counter({
    name: 'payment_charge_checks_total',
    help: 'Charge attempts checked with the provider by the recovery sweep, by result.',
    labelNames: ['result'] as const,
    registers: [rt.metrics],
  });
  const waiters = new PaymentWaiters(envInt('PAYMENT_MAX_WAITERS', 1000, { min: 0, max: 100_000 }, env));
  const repo = new PgPaymentRepository(rt.db, rt.outbox, (bookingId) => waiters.notify(bookingId));
  new Gauge({
    name: 'payment_refunds_failed',
    help: 'Refunds that ran out of retries and wait for an operator (GET /refunds?status=failed).',
    registers: [rt.metrics],
    async collect() {
      const { rows } = await rt.db.query<{ n: string | number }>(`SELECT count(*) AS n FROM refunds WHERE status = 'failed'`);
      this.set(Number(rows[0]?.n ?? 0));
    },
  });

  // The provider calls back this service's own public callback endpoint, known once it listens.
  let callback: Deliver | undefined;
  const deliverToCallback: Deliver = (s) => (callback ? callback(s) : Promise.reject(new Error('payment service not listening yet')));
  const network = new SimulatedCardNetwork({
    db: rt.db,
    deliver: o.wrapDeliver ? o.wrapDeliver(deliverToCallback) : deliverToCallback,
    latencyMs,
    answerDelayMs: envInt('PAYMENT_SIM_ANSWER_DELAY_MS', 0, { min: 0 }, env),
    retryBaseMs: callbackRetryMs,
    failureRate: failurePercent / 100,
    onDeliveryFailed: (s, err, delivery, retryInMs) => {
      callbackFailures.inc();
      log.warn({ err, payment_id: s.payment_id, delivery, retry_in_ms: retryInMs }, 'settlement callback not delivered; retrying');
    },
    onUndelivered: (s, err) => {
      callbackFailures.inc();
      log.error({ err, payment_id: s.payment_id }, 'settlement could not be delivered; the recovery sweep will look it up');
    },
  });
  const provider: PaymentProvider = o.wrapProvider ? o.wrapProvider(network) : network;
  const queries = new PgPaymentQueries(rt.db);

  const refundDeps: RefundDeps = {
    repo,
    clock,
    provider,
    decisions,
    policy: {
      maxAttempts: envInt('PAYMENT_REFUND_MAX_ATTEMPTS', 8, { min: 1, max: 100 }, env),
      baseDelayMs: envInt('PAYMENT_REFUND_RETRY_BASE_MS', 1000, { min: 1 }, env),
      maxDelayMs: envInt('PAYMENT_REFUND_RETRY_MAX_MS', 5 * 60_000, { min: 1 }, env),
    },
    observer: {
      refundFailed(refund, err, final) {
        refundFailures.inc({ final: String(final) });
        const fields = {
          err,
          refund_id: refund.refund_id,
          payment_id: refund.payment_id,
          provider_reference: refund.provider_reference,
          attempts: refund.attempts,
        };
        if (final) log.error(fields, 'refund failed and ran out of retries; listed at GET /refunds?status=failed for an operator');
        else log.warn({ ...fields, next_attempt_at: refund.next_attempt_at }, 'refund failed; retrying later');
      },
      refundSucceeded(refund) {
        log.info({ refund_id: refund.refund_id, payment_id: refund.payment_id, reason: refund.reason }, 'refund made');
      },
    },
  };

  rt.on(BookingReserved, 'initiatePaymentOnBookingReserved', async (ctx, tx) => {
    await initiatePaymentOnBookingReserved({ clock, ids: uuidV7Ids, provider, decisions }, repo.forTransaction(tx), ctx.event);
  });
  rt.on(BookingCancelled, 'closePaymentOnBookingCancelled', async (ctx, tx) => {
    await closePaymentOnBookingCancelled({ clock, provider, decisions }, repo.forTransaction(tx), ctx.event);
  });
  rt.on(ReservationExpired, 'closePaymentOnReservationExpired', async (ctx, tx) => {
    await closePaymentOnReservationExpired({ clock, provider, decisions }, repo.forTransaction(tx), ctx.event);
  });
  rt.every('refund-payments', envInt('PAYMENT_REFUND_SWEEP_MS', 1000, { min: 50 }, env), () => refundPendingPayments(refundDeps));
  rt.every('reconcile-charges', envInt('PAYMENT_RECONCILE_SWEEP_MS', 1000, { min: 50 }, env), async () => {
    const counts = await reconcileChargeAttempts({
      repo,
      clock,
      provider,
      decisions,
      policy: { baseDelayMs: reconcileAfterMs, abandonAfterMs },
      onLookupError: (attempt, err) =>
        log.warn({ err, attempt_id: attempt.attempt_id, payment_id: attempt.payment_id }, 'provider lookup failed; checking again later'),
    });
    for (const [result, n] of Object.entries(counts)) if (n > 0) reconciled.inc({ result }, n);
    if (counts.settled > 0 || counts.abandoned > 0) log.info(counts, 'charge attempts reconciled with the provider');
  });

  await rt.http.register(
    httpApi({
      payments: {
        repo,
        queries,
        clock,
        provider,
        ids: uuidV7Ids,
        decisions,
        checkAfterMs: reconcileAfterMs,
        onProviderError: (attempt, err) =>
          log.warn(
            { err, attempt_id: attempt.attempt_id, payment_id: attempt.payment_id },
            'charge: the provider did not answer; the recovery sweep checks the attempt',
          ),
        callbackSecret,
        waiters,
        waitRecheckMs: envInt('PAYMENT_WAIT_RECHECK_MS', 1000, { min: 10 }, env),
      },
      refunds: refundDeps,
    }),
  );

  const start = rt.start.bind(rt);
  const close = rt.close.bind(rt);
  return Object.assign(rt, {
    network,
    async start() {
      const url = await start();
      callback = httpCallbackDeliverer({ url: `${url}/payments/callback`, secret: callbackSecret });
      return url;
    },
    async close() {
      waiters.close();
      network.close();
      await close();
    },
  });
}
