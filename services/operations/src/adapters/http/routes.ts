// The operations API: live answers from the live store (`/operations/...`) and the same questions
// from Postgres (`/operations/reports/...`), read-only.
import type { FastifyPluginAsync } from 'fastify';
import type { DomainErrorLike } from '@albergue/platform/http';
import { problemResponses, sendErrors, useStrictValidation } from '@albergue/platform/http';
import { OPERATIONS_PROJECTIONS } from '../../domain/operations-projections.js';
import type { LiveProjections } from '../../application/live-sync.js';
import type { ProjectionReader } from '../../application/ports.js';
import { bookingsByStatus, flowsInFlight, occupancyOf, paymentsByStatus } from '../../application/queries.js';
import type { BookingsQuery, FlowsQuery, OccupancyQuery } from './schemas.js';
import * as S from './schemas.js';

export interface OperationsHttpDeps {
  readonly live: ProjectionReader;
  readonly reports: ProjectionReader;
  readonly liveSync: LiveProjections;
  readonly status: () => Promise<{ projection: string; rebuilt_at: string | null; rebuilt_events: number | null }[]>;
  /** Epoch milliseconds now (waited_ms). */
  readonly nowMs: () => number;
}

const statusOf = (code: string): number => (code === 'albergue_not_found' ? 404 : 400);
const pathOf = (e: DomainErrorLike): string | undefined =>
  e.code === 'albergue_not_found' ? '/query/albergue_id' : e.code === 'invalid_range' ? '/query/to' : undefined;

export function operationsRoutes(deps: OperationsHttpDeps): FastifyPluginAsync {
  return (app) => {
    useStrictValidation(app);
    for (const [prefix, reader, source] of [
      ['/operations', deps.live, 'live'],
      ['/operations/reports', deps.reports, 'report'],
    ] as const) {
      const where = source === 'live' ? 'live store' : 'Postgres report';
      app.get<{ Querystring: OccupancyQuery }>(
        `${prefix}/occupancy`,
        {
          schema: {
            tags: ['operations'],
            summary: `Beds per night of an albergue over [from, to): capacity, reserved, confirmed, free (${where})`,
            querystring: S.OccupancyQuery,
            response: { 200: S.OccupancyView, ...problemResponses(404) },
          },
        },
        async (req, reply) => {
          const r = await occupancyOf(reader, req.query.albergue_id, req.query.from, req.query.to);
          if (!r.ok) return sendErrors(reply, { statusOf, pathOf }, r.errors);
          return reply.send({ source, ...r.value });
        },
      );
      app.get<{ Querystring: BookingsQuery }>(
        `${prefix}/bookings`,
        {
          schema: {
            tags: ['operations'],
            summary: `Bookings by status, overall and per albergue (${where})`,
            querystring: S.BookingsQuery,
            response: { 200: S.BookingsView, ...problemResponses() },
          },
        },
        async (req) => ({ source, ...(await bookingsByStatus(reader, req.query.albergue_id)) }),
      );
      app.get(
        `${prefix}/payments`,
        {
          schema: {
            tags: ['operations'],
            summary: `Payments: count and sum per status and currency, and refunds (${where})`,
            querystring: S.NoQuery,
            response: { 200: S.PaymentsView, ...problemResponses() },
          },
        },
        async () => ({ source, ...(await paymentsByStatus(reader)) }),
      );
      app.get<{ Querystring: FlowsQuery }>(
        `${prefix}/flows-in-flight`,
        {
          schema: {
            tags: ['operations'],
            summary: `Reserved bookings not yet confirmed, cancelled or expired, the longest waiting first (${where})`,
            querystring: S.FlowsQuery,
            response: { 200: S.FlowsView, ...problemResponses() },
          },
        },
        async (req) => ({ source, ...(await flowsInFlight(reader, Number(req.query.limit ?? '50'), deps.nowMs())) }),
      );
    }
    app.get(
      '/operations/projections',
      {
        schema: {
          tags: ['operations'],
          summary: 'The projections, when each was last rebuilt, and whether its live copy waits for a resync',
          querystring: S.NoQuery,
          response: { 200: S.ProjectionsView, ...problemResponses() },
        },
      },
      async () => {
        const rows = new Map((await deps.status()).map((r) => [r.projection, r]));
        return {
          live_store: deps.liveSync.live.kind,
          projections: OPERATIONS_PROJECTIONS.map((p) => ({
            projection: p.name,
            description: p.description,
            events: p.events.map((d) => d.name),
            rebuilt_at: rows.get(p.name)?.rebuilt_at ?? null,
            rebuilt_events: rows.get(p.name)?.rebuilt_events ?? null,
            live_stale: deps.liveSync.isStale(p.name),
          })),
        };
      },
    );
    return Promise.resolve();
  };
}
