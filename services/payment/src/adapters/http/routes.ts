// Payment's HTTP API as a Fastify plugin: read a payment, pay it, and the provider callback.
import type { DecisionLog } from '@albergue/application';
import type { FastifyPluginAsync } from 'fastify';
import type { Static } from '@sinclair/typebox';
import type { ChargeDeps } from '../../application/charge-payment.js';
import { chargePayment } from '../../application/charge-payment.js';
import type { PaymentQueries, PaymentView } from '../../application/ports.js';
import type { PaymentWaiters } from '../../application/payment-waiters.js';
import { awaitPaymentOfBooking, getPayment } from '../../application/queries.js';
import { settlePayment } from '../../application/settle-payment.js';
import { SIGNATURE_HEADER } from '../provider/http-callback.js';
import { verifyCallback } from '../provider/simulated-card-network.js';
import type { ChargeBody, Settlement } from './schemas.js';
import * as S from './schemas.js';
import type { DomainErrorLike } from '@albergue/platform/http';
import { problem, problemResponses, sendErrors, sendProblem, useStrictValidation } from '@albergue/platform/http';

export interface PaymentHttpDeps extends ChargeDeps {
  readonly queries: PaymentQueries;
  /**
   * Shared secret of the provider callback (PAYMENT_CALLBACK_SECRET): callbacks must carry
   * `x-albergue-signature` = hex HMAC-SHA256 of their body. Unset: callbacks are not authenticated
   * (development only).
   */
  readonly callbackSecret?: string;
  /** Settlements (callbacks) that change nothing are reported here. */
  readonly decisions?: DecisionLog;
  /** Long-polls of a booking's payment (`?wait=`): woken when this process commits one; at most `waiters.max` at a time. */
  readonly waiters: PaymentWaiters;
  /** While long-polling, read the store again at least this often (ms): another instance may have written the payment. */
  readonly waitRecheckMs: number;
}

/** HTTP status of each domain error code (400 broken rule, 404 no such payment, 409 conflict with state, 422 method refused). */
export function statusOf(code: string): number {
  switch (code) {
    case 'payment_not_found':
      return 404;
    case 'payment_not_open':
    case 'charge_in_progress':
    case 'refund_already_succeeded':
      return 409;
    case 'refund_not_found':
      return 404;
    case 'provider_unavailable':
      return 503;
    case 'payment_method_rejected':
      return 422;
    default:
      return 400;
  }
}

/** The input a domain error is about (JSON Pointer into the request). */
function paymentPathOf(e: DomainErrorLike): string | undefined {
  if (e.code === 'payment_not_found') return '/params/payment_id';
  if (e.code === 'payment_method_rejected') return '/body/payment_method';
  return undefined;
}

const notFound = (detail: string, path: string) =>
  problem(404, 'payment_not_found', detail, [{ path, message: 'no payment found', code: 'payment_not_found' }]);

const withPayUrl = (v: PaymentView) => (v.status === 'initiated' ? { ...v, pay_url: `/payments/${v.payment_id}/charge` } : v);

export function paymentRoutes(deps: PaymentHttpDeps): FastifyPluginAsync {
  return (app) => {
    useStrictValidation(app);

    // The callback's signature covers the exact bytes sent: keep them next to the parsed body.
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
      (req as unknown as { rawBody: string }).rawBody = body as string;
      if ((body as string).trim() === '') {
        done(Object.assign(new Error('the body is empty'), { statusCode: 400, code: 'FST_ERR_CTP_EMPTY_JSON_BODY' }), undefined);
        return;
      }
      try {
        done(null, JSON.parse(body as string));
      } catch (err) {
        done(Object.assign(err as Error, { statusCode: 400, code: 'invalid_json' }), undefined);
      }
    });

    app.get<{ Params: Static<typeof S.PaymentParams> }>(
      '/payments/:payment_id',
      {
        schema: {
          tags: ['payments'],
          summary: 'A payment',
          params: S.PaymentParams,
          response: { 200: S.PaymentView, ...problemResponses(404) },
        },
      },
      async (req, reply) => {
        const view = await getPayment(deps.queries, req.params.payment_id);
        if (!view) return sendProblem(reply, notFound(`payment ${req.params.payment_id} does not exist`, '/params/payment_id'));
        return reply.send(withPayUrl(view));
      },
    );

    app.get<{ Params: Static<typeof S.BookingParams>; Querystring: Static<typeof S.PaymentOfBookingQuery> }>(
      '/bookings/:booking_id/payment',
      {
        schema: {
          tags: ['payments'],
          summary: "A booking's payment (`?wait=` seconds: long-poll until it exists)",
          params: S.BookingParams,
          querystring: S.PaymentOfBookingQuery,
          response: { 200: S.PaymentView, ...problemResponses(404, 503) },
        },
      },
      async (req, reply) => {
        const waitMs = Number(req.query.wait ?? '0') * 1000;
        const r = await awaitPaymentOfBooking(
          { queries: deps.queries, waiters: deps.waiters, recheckMs: deps.waitRecheckMs },
          req.params.booking_id,
          waitMs,
        );
        if (r.status === 'found') return reply.send(withPayUrl(r.view));
        if (r.status === 'busy') {
          void reply.header('retry-after', '1');
          return sendProblem(
            reply,
            problem(
              503,
              'too_many_waiting',
              `${deps.waiters.max} requests are waiting for payments already; retry after 1 s or ask without wait`,
              [{ path: '/query/wait', message: 'no waiting slot free', code: 'too_many_waiting' }],
            ),
          );
        }
        const detail = `booking ${req.params.booking_id} has no payment (yet)${waitMs > 0 ? ` after waiting ${waitMs / 1000} s` : ''}`;
        return sendProblem(reply, notFound(detail, '/params/booking_id'));
      },
    );

    app.post<{ Params: Static<typeof S.PaymentParams>; Body: ChargeBody }>(
      '/payments/:payment_id/charge',
      {
        // Charging commits more than once (the attempt before the provider call): Idempotency-Key in lease mode.
        // Called by the provider, not through the gateway: it carries the provider's signature instead of the gateway's.
        config: { idempotency: 'lease', gatewaySignature: false },
        schema: {
          tags: ['payments'],
          summary: 'Pay an open payment with a payment method (test card number on the simulated network)',
          params: S.PaymentParams,
          body: S.ChargeBody,
          response: { 202: S.ChargeAccepted, ...problemResponses(404, 409, 422, 503) },
        },
      },
      async (req, reply) => {
        const r = await chargePayment(deps, { payment_id: req.params.payment_id, payment_method: req.body.payment_method });
        if (!r.ok) return sendErrors(reply, { statusOf, pathOf: paymentPathOf }, r.errors);
        return reply.code(202).send(r.value);
      },
    );

    app.post<{ Body: Settlement }>(
      '/payments/callback',
      {
        // Settling may call the provider (refunds): Idempotency-Key in lease mode.
        // Called by the provider, not through the gateway: it carries the provider's signature instead of the gateway's.
        config: { idempotency: 'lease', gatewaySignature: false },
        schema: {
          tags: ['provider'],
          summary: 'Provider settlement callback (webhook); idempotent',
          body: S.Settlement,
          response: { 200: S.SettlementAnswer, ...problemResponses(401, 404, 409, 422) },
        },
      },
      async (req, reply) => {
        if (deps.callbackSecret !== undefined) {
          const signature = req.headers[SIGNATURE_HEADER];
          const raw = (req as unknown as { rawBody?: string }).rawBody ?? '';
          if (typeof signature !== 'string' || !verifyCallback(raw, signature, deps.callbackSecret)) {
            return sendProblem(
              reply,
              problem(401, 'invalid_signature', `the ${SIGNATURE_HEADER} header does not match the body`, [
                { path: `/headers/${SIGNATURE_HEADER}`, message: 'does not match the body', code: 'invalid_signature' },
              ]),
            );
          }
        }
        const r = await settlePayment(deps, req.body);
        if (!r.ok)
          return sendErrors(
            reply,
            { statusOf, pathOf: (e) => (e.code === 'payment_not_found' ? '/body/payment_id' : undefined) },
            r.errors,
          );
        return reply.send({ payment_id: req.body.payment_id, status: r.value?.status ?? 'unknown', events: r.events.length });
      },
    );
    return Promise.resolve();
  };
}
