// Audit's HTTP API: the trail's events with cursor paging, and flows as causal trees with their delivery state.
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { Static } from '@sinclair/typebox';
import { problem, problemResponses, sendProblem, useStrictValidation } from '@albergue/platform/http';
import type { FlowDeps, FlowView } from '../../application/queries.js';
import { DEFAULT_LIMIT, MAX_LIMIT, bookingFlow, decodeCursor, flowOf, listEvents } from '../../application/queries.js';
import * as S from './schemas.js';

const FLOW_DESCRIPTION =
  'Every event of the flow as a tree by causation_id (roots: events caused by a command; children after their parent, ' +
  'siblings by occurred_at then seq). Each node: event_id, event_type, topic, occurred_at, recorded_at, aggregate, children, ' +
  'and `delivery`: per subscriber, its state from the ledger (pending, leased, processed, dead_lettered, unknown), attempts, ' +
  'errors, next attempt, when processed, the DLQ entry. `breakers`: those of the flow that are not closed. When the broker ' +
  'cannot be asked, `delivery_source` is `unavailable`, states are `unknown` and `warnings` says why.';

export function auditRoutes(deps: FlowDeps): FastifyPluginAsync {
  return (app) => {
    useStrictValidation(app);

    app.get<{ Querystring: S.EventsQuery }>(
      '/audit/events',
      {
        schema: {
          tags: ['audit'],
          summary: 'Recorded events in recording order (seq), filtered, with cursor paging: page until next_cursor is null',
          querystring: S.EventsQuery,
          response: { 200: S.EventPage, ...problemResponses() },
        },
      },
      async (req, reply) => {
        const q = req.query;
        const limit = q.limit === undefined ? DEFAULT_LIMIT : Number(q.limit);
        const problems = [];
        if (limit > MAX_LIMIT) problems.push({ path: '/query/limit', message: `must be at most ${MAX_LIMIT}`, code: 'maximum' });
        const after = q.cursor === undefined ? 0 : decodeCursor(q.cursor);
        if (after === undefined)
          problems.push({ path: '/query/cursor', message: 'not a cursor this service gave out', code: 'invalid_cursor' });
        if (q.from !== undefined && q.to !== undefined && Date.parse(q.from) >= Date.parse(q.to))
          problems.push({ path: '/query/to', message: 'must be after from', code: 'invalid_range' });
        if (problems.length > 0 || after === undefined)
          return sendProblem(reply, problem(400, 'invalid_request', problems.map((p) => `${p.path}: ${p.message}`).join('; '), problems));
        return listEvents(
          deps,
          {
            ...(q.aggregate_id !== undefined ? { aggregateId: q.aggregate_id } : {}),
            ...(q.event_type !== undefined ? { eventType: q.event_type } : {}),
            ...(q.correlation_id !== undefined ? { correlationId: q.correlation_id.toLowerCase() } : {}),
            ...(q.from !== undefined ? { from: q.from } : {}),
            ...(q.to !== undefined ? { to: q.to } : {}),
          },
          after,
          limit,
        );
      },
    );

    app.get<{ Params: Static<typeof S.FlowParams> }>(
      '/audit/flows/:correlation_id',
      {
        schema: {
          tags: ['audit'],
          summary: 'A flow as a causal tree, with each event’s delivery state per subscriber and the open breakers',
          description: FLOW_DESCRIPTION,
          params: S.FlowParams,
          response: problemResponses(404),
        },
      },
      async (req, reply) => {
        const flow = await flowOf(deps, req.params.correlation_id.toLowerCase());
        return flow
          ? reply.send(flow)
          : notFound(
              reply,
              'flow_not_found',
              `no recorded event has correlation_id ${req.params.correlation_id}`,
              '/params/correlation_id',
            );
      },
    );

    app.get<{ Params: Static<typeof S.BookingParams> }>(
      '/audit/bookings/:booking_id',
      {
        schema: {
          tags: ['audit'],
          summary: 'The flow of a booking, found from its id (same answer as /audit/flows/{correlation_id})',
          description: FLOW_DESCRIPTION,
          params: S.BookingParams,
          response: problemResponses(404),
        },
      },
      async (req, reply) => {
        const flow: FlowView | undefined = await bookingFlow(deps, req.params.booking_id);
        return flow
          ? reply.send(flow)
          : notFound(reply, 'booking_not_found', `no recorded event of booking ${req.params.booking_id}`, '/params/booking_id');
      },
    );
    return Promise.resolve();
  };
}

function notFound(reply: FastifyReply, code: string, detail: string, path: string): FastifyReply {
  return sendProblem(reply, problem(404, code, detail, [{ path, message: detail, code }]));
}
