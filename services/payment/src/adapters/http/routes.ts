// Payment's HTTP API as a Fastify plugin: read a payment, pay it, and the provider callback.
import type { FastifyPluginAsync } from 'fastify';
import type { Static } from '@sinclair/typebox';
import type { ChargeDeps } from '../../application/charge-payment';
import { chargePayment } from '../../application/charge-payment';
import type { PaymentQueries, PaymentView } from '../../application/ports';
import { getPayment, getPaymentOfBooking } from '../../application/queries';
import { settlePayment } from '../../application/settle-payment';
import { SIGNATURE_HEADER } from '../provider/http-callback';
import { verifyCallback } from '../provider/simulated-card-network';
import type { ChargeBody, Settlement } from './schemas';
import * as S from './schemas';
import { ErrorBody, sendErrors, useStrictValidation } from '@albergue/platform/http';

export interface PaymentHttpDeps extends ChargeDeps {
  readonly queries: PaymentQueries;
  /**
   * Shared secret of the provider callback (PAYMENT_CALLBACK_SECRET): callbacks must carry
   * `x-albergue-signature` = hex HMAC-SHA256 of their body. Unset: callbacks are not authenticated
   * (development only).
   */
  readonly callbackSecret?: string;
}

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

const withPayUrl = (v: PaymentView) => (v.status === 'initiated' ? { ...v, pay_url: `/payments/${v.payment_id}/charge` } : v);

export function paymentRoutes(deps: PaymentHttpDeps): FastifyPluginAsync {
  return (app) => {
    useStrictValidation(app);

    // The callback's signature covers the exact bytes sent: keep them next to the parsed body.
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
      try {
        (req as unknown as { rawBody: string }).rawBody = body as string;
        done(null, JSON.parse(body as string));
      } catch (err) {
        done(Object.assign(err as Error, { statusCode: 400, code: 'invalid_json' }), undefined);
      }
    });

    app.get<{ Params: Static<typeof S.PaymentParams> }>('/payments/:payment_id', {
      schema: { tags: ['payments'], summary: 'A payment', params: S.PaymentParams, response: { 200: S.PaymentView, 404: ErrorBody } },
    }, async (req, reply) => {
      const view = await getPayment(deps.queries, req.params.payment_id);
      if (!view) return reply.code(404).send({ error: 'payment_not_found', message: `payment ${req.params.payment_id} does not exist` });
      return reply.send(withPayUrl(view));
    });

    app.get<{ Params: Static<typeof S.BookingParams> }>('/bookings/:booking_id/payment', {
      schema: { tags: ['payments'], summary: "A booking's payment", params: S.BookingParams, response: { 200: S.PaymentView, 404: ErrorBody } },
    }, async (req, reply) => {
      const view = await getPaymentOfBooking(deps.queries, req.params.booking_id);
      if (!view) return reply.code(404).send({ error: 'payment_not_found', message: `booking ${req.params.booking_id} has no payment (yet)` });
      return reply.send(withPayUrl(view));
    });

    app.post<{ Params: Static<typeof S.PaymentParams>; Body: ChargeBody }>('/payments/:payment_id/charge', {
      schema: {
        tags: ['payments'],
        summary: 'Pay an open payment with a payment method (test card number on the simulated network)',
        params: S.PaymentParams,
        body: S.ChargeBody,
        response: { 202: S.ChargeAccepted, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody, 422: ErrorBody, 503: ErrorBody },
      },
    }, async (req, reply) => {
      const r = await chargePayment(deps, { payment_id: req.params.payment_id, payment_method: req.body.payment_method });
      if (!r.ok) return sendErrors(reply, statusOf, r.errors);
      return reply.code(202).send(r.value);
    });

    app.post<{ Body: Settlement }>('/payments/callback', {
      schema: {
        tags: ['provider'],
        summary: 'Provider settlement callback (webhook); idempotent',
        body: S.Settlement,
        response: { 200: S.SettlementAnswer, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
      },
    }, async (req, reply) => {
      if (deps.callbackSecret !== undefined) {
        const signature = req.headers[SIGNATURE_HEADER];
        const raw = (req as unknown as { rawBody?: string }).rawBody ?? '';
        if (typeof signature !== 'string' || !verifyCallback(raw, signature, deps.callbackSecret)) {
          return reply.code(401).send({ error: 'invalid_signature', message: `the ${SIGNATURE_HEADER} header does not match the body` });
        }
      }
      const r = await settlePayment(deps, req.body);
      if (!r.ok) return sendErrors(reply, statusOf, r.errors);
      return reply.send({ payment_id: req.body.payment_id, status: r.value?.status ?? 'unknown', events: r.events.length });
    });
    return Promise.resolve();
  };
}
