// Notifications' HTTP API as a Fastify plugin: what was sent (or failed) per booking or guest, and
// forgetting a guest's contact.
import type { FastifyPluginAsync } from 'fastify';
import type { Static } from '@sinclair/typebox';
import type { ForgetDeps } from '../../application/forget-contact.js';
import { forgetContact } from '../../application/forget-contact.js';
import type { NotificationQueries, NotificationRecord } from '../../application/ports.js';
import * as S from './schemas.js';
import { problem, problemResponses, sendProblem, useStrictValidation } from '@albergue/platform/http';

export interface NotificationHttpDeps extends ForgetDeps {
  readonly queries: NotificationQueries;
}

/** A notification as the API shows it (no undefined fields; the row's detail is `error` for failed ones only). */
function view(n: NotificationRecord): Static<typeof S.NotificationView> {
  const { detail, ...rest } = n;
  const shown = { ...rest, ...(n.status === 'failed' && detail !== undefined ? { error: detail } : {}) };
  return Object.fromEntries(Object.entries(shown).filter(([, v]) => v !== undefined)) as Static<typeof S.NotificationView>;
}

export function notificationRoutes(deps: NotificationHttpDeps): FastifyPluginAsync {
  return (app) => {
    useStrictValidation(app);

    app.get<{ Querystring: Static<typeof S.NotificationListQuery> }>(
      '/notifications',
      {
        schema: {
          tags: ['notifications'],
          summary: 'Messages sent (or failed for good) about a booking or to a guest, oldest first',
          querystring: S.NotificationListQuery,
          response: { 200: S.NotificationList, ...problemResponses() },
        },
      },
      async (req, reply) => {
        const { booking_id, guest_id, limit } = req.query;
        if (booking_id === undefined && guest_id === undefined)
          return sendProblem(
            reply,
            problem(400, 'invalid_request', 'give booking_id or guest_id (or both)', [
              { path: '/query/booking_id', message: 'booking_id or guest_id is required', code: 'required' },
            ]),
          );
        const rows = await deps.queries.list({
          ...(booking_id !== undefined ? { booking_id } : {}),
          ...(guest_id !== undefined ? { guest_id } : {}),
          limit: limit === undefined ? 100 : Number(limit),
        });
        return reply.send({ notifications: rows.map(view) });
      },
    );

    app.delete<{ Params: Static<typeof S.ContactParams> }>(
      '/contacts/:guest_id',
      {
        schema: {
          tags: ['contacts'],
          summary: "Forget a guest's contact (name, email, locale); sent-message records keep only the masked recipient; idempotent",
          params: S.ContactParams,
          response: { 200: S.ContactForgotten, ...problemResponses() },
        },
      },
      async (req, reply) => {
        const r = await forgetContact(deps, req.params.guest_id);
        return reply.send({ guest_id: req.params.guest_id, contact_erased: r.forgotten, forgotten_at: r.forgotten_at });
      },
    );
    return Promise.resolve();
  };
}
