// Booking's HTTP API as a Fastify plugin: commands (reserve, cancel) and queries (a booking, a
// guest's bookings, availability). Register it on the service's Fastify instance.
import type { FastifyPluginAsync } from 'fastify';
import type { Static } from '@sinclair/typebox';
import { cancelBooking } from '../../application/cancel-booking';
import type { BookingConfig, BookingQueries, BookingRepository, Clock, IdGenerator } from '../../application/ports';
import { getAvailability, getBooking, getGuestBookings } from '../../application/queries';
import { reserveBooking } from '../../application/reserve-booking';
import type { AvailabilityQuery, CancelBody, ReserveBody } from './schemas';
import * as S from './schemas';
import { ErrorBody, sendErrors, useStrictValidation } from '@albergue/platform/http';

export interface BookingHttpDeps {
  readonly repo: BookingRepository;
  readonly queries: BookingQueries;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly config: BookingConfig;
}

/** HTTP status for each domain error code. */
export function statusOf(code: string): number {
  switch (code) {
    case 'booking_not_found':
      return 404;
    case 'not_your_booking':
      return 403;
    case 'booking_exists':
    case 'booking_not_active':
    case 'stay_started':
    case 'no_beds_left':
      return 409;
    case 'unknown_albergue':
      return 422;
    default:
      return 400;
  }
}

const errors = { 400: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody, 422: ErrorBody };

export function bookingRoutes(deps: BookingHttpDeps): FastifyPluginAsync {
  return (app) => {
    useStrictValidation(app);

    app.post<{ Body: ReserveBody }>('/bookings', {
      schema: {
        tags: ['bookings'],
        summary: 'Reserve beds (held until paid or the hold expires)',
        body: S.ReserveBody,
        response: { 201: S.BookingView, ...errors },
      },
    }, async (req, reply) => {
      const r = await reserveBooking(deps, { ...req.body, command_id: req.id });
      if (!r.ok) return sendErrors(reply, statusOf, r.errors);
      return reply.code(201).header('location', `/bookings/${r.value.booking_id}`).send(r.value);
    });

    app.post<{ Params: Static<typeof S.BookingParams>; Body: CancelBody }>('/bookings/:booking_id/cancel', {
      schema: {
        tags: ['bookings'],
        summary: 'Cancel a booking (by its guest, before the check-in day)',
        params: S.BookingParams,
        body: S.CancelBody,
        response: { 200: S.BookingView, ...errors },
      },
    }, async (req, reply) => {
      const r = await cancelBooking(deps, { booking_id: req.params.booking_id, guest_id: req.body.guest_id, command_id: req.id });
      if (!r.ok) return sendErrors(reply, statusOf, r.errors);
      return reply.send(r.value);
    });

    app.get<{ Params: Static<typeof S.BookingParams> }>('/bookings/:booking_id', {
      schema: { tags: ['bookings'], summary: 'A booking', params: S.BookingParams, response: { 200: S.BookingView, 404: ErrorBody } },
    }, async (req, reply) => {
      const view = await getBooking(deps.queries, req.params.booking_id);
      if (!view) return reply.code(404).send({ error: 'booking_not_found', message: `booking ${req.params.booking_id} does not exist` });
      return reply.send(view);
    });

    app.get<{ Params: Static<typeof S.GuestParams> }>('/guests/:guest_id/bookings', {
      schema: { tags: ['bookings'], summary: "A guest's bookings, newest check-in first", params: S.GuestParams, response: { 200: S.BookingList } },
    }, async (req) => ({ bookings: await getGuestBookings(deps.queries, req.params.guest_id) }));

    app.get<{ Params: Static<typeof S.AlbergueParams>; Querystring: Static<typeof AvailabilityQuery> }>('/albergues/:albergue_id/availability', {
      schema: {
        tags: ['availability'],
        summary: 'Beds per night of an albergue over [from, to)',
        params: S.AlbergueParams,
        querystring: S.AvailabilityQuery,
        response: { 200: S.Availability, 400: ErrorBody, 404: ErrorBody },
      },
    }, async (req, reply) => {
      const r = await getAvailability(deps.queries, req.params.albergue_id, req.query.from, req.query.to);
      if (!r.ok) return sendErrors(reply, (code) => (code === 'unknown_albergue' ? 404 : 400), r.errors);
      return reply.send(r.value);
    });
    return Promise.resolve();
  };
}
