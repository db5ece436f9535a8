// Payment's operator routes for refunds: see the refunds that keep failing and retry one.
import type { FastifyPluginAsync } from 'fastify';
import type { Static } from '@sinclair/typebox';
import type { Refund } from '../../application/ports.js';
import type { RefundDeps } from '../../application/refund-payment.js';
import { retryRefund } from '../../application/refund-payment.js';
import * as S from './schemas.js';
import { statusOf } from './routes.js';
import { problemResponses, sendErrors, useStrictValidation } from '@albergue/platform/http';

/** A refund as the API shows it (no undefined fields). */
function refundView(r: Refund): Static<typeof S.RefundView> {
  return Object.fromEntries(Object.entries({ ...r, amount: { ...r.amount } }).filter(([, v]) => v !== undefined)) as Static<
    typeof S.RefundView
  >;
}

export function refundRoutes(deps: RefundDeps): FastifyPluginAsync {
  return (app) => {
    useStrictValidation(app);

    app.get<{ Querystring: Static<typeof S.RefundListQuery> }>(
      '/refunds',
      {
        schema: {
          tags: ['refunds'],
          summary: 'Refunds by status (operator): `failed` lists the ones whose retries ran out',
          querystring: S.RefundListQuery,
          response: { 200: S.RefundList, ...problemResponses() },
        },
      },
      async (req, reply) => {
        const refunds = await deps.repo.listRefunds(req.query.status, req.query.limit === undefined ? 100 : Number(req.query.limit));
        return reply.send({ refunds: refunds.map(refundView) });
      },
    );

    app.post<{ Params: Static<typeof S.RefundParams> }>(
      '/refunds/:refund_id/retry',
      {
        schema: {
          tags: ['refunds'],
          summary: 'Retry a refund now (operator), with a fresh retry budget; idempotent',
          params: S.RefundParams,
          response: { 200: S.RefundView, ...problemResponses(404, 409) },
        },
      },
      async (req, reply) => {
        const r = await retryRefund(deps, req.params.refund_id);
        switch (r.status) {
          case 'not_found':
            return sendErrors(reply, statusOf, [{ code: 'refund_not_found', reason: `refund ${req.params.refund_id} does not exist` }]);
          case 'already_succeeded':
            return sendErrors(reply, statusOf, [
              { code: 'refund_already_succeeded', reason: `refund ${req.params.refund_id} was already made; nothing to retry` },
            ]);
          default:
            // succeeded, or failed again (still listed; its last_error says why).
            return reply.code(200).send(refundView(r.refund));
        }
      },
    );
    return Promise.resolve();
  };
}
