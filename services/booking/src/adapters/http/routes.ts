// Booking's HTTP API as a Fastify plugin: commands (reserve, cancel) and queries (a booking, a
// guest's bookings, availability). Register it on the service's Fastify instance.
import type { FastifyPluginAsync } from 'fastify';
import type { Static } from '@sinclair/typebox';
import { cancelBooking } from '../../application/cancel-booking.js';
import type { BookingConfig, BookingQueries, BookingRepository, Clock, IdGenerator } from '../../application/ports.js';
import { getAvailability, getBooking, getGuestBookings } from '../../application/queries.js';
import { reserveBooking } from '../../application/reserve-booking.js';
import type { AvailabilityQuery, CancelBody, ReserveBody } from './schemas.js';
import * as S from './schemas.js';
import type { DomainErrorLike } from '@albergue/platform/http';
import { commandOf, problem, problemResponses, reportFlow, sendErrors, sendProblem, useStrictValidation } from '@albergue/platform/http';

export interface BookingHttpDeps {
  readonly repo: BookingRepository;
  readonly queries: BookingQueries;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly config: BookingConfig;
}

/**
 * HTTP status for each domain error code. One status per situation across the services: input that
 * breaks a rule → 400; an albergue, booking or payment that does not exist → 404 (whether the URL or
 * the body names it); a conflict with the current state → 409.
 */
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
      return 404;
    default:
      return 400;
  }
}

/** The field of a reservation a domain error is about (JSON Pointer into the request). */
function reservationPathOf(e: DomainErrorLike): string | undefined {
  switch (e.code) {
    case 'invalid_date':
      return e.reason.startsWith('check_out') ? '/body/check_out' : '/body/check_in';
    case 'check_out_not_after_check_in':
    case 'too_many_nights':
      return '/body/check_out';
    case 'check_in_in_past':
    case 'check_in_too_far_ahead':
      return '/body/check_in';
    case 'invalid_beds':
    case 'no_beds_left':
      return '/body/beds';
    case 'invalid_guest':
      return /email/.test(e.reason) ? '/body/guest/email' : /guest_id/.test(e.reason) ? '/body/guest/guest_id' : '/body/guest/name';
    case 'unknown_albergue':
      return '/body/albergue_id';
    default:
      return undefined;
  }
}

function cancelPathOf(e: DomainErrorLike): string | undefined {
  if (e.code === 'booking_not_found') return '/params/booking_id';
  if (e.code === 'not_your_booking') return '/body/guest_id';
  return undefined;
}

function availabilityPathOf(e: DomainErrorLike): string | undefined {
  if (e.code === 'unknown_albergue') return '/params/albergue_id';
  if (e.code === 'invalid_range') return e.reason.startsWith('to ') ? '/query/to' : '/query/from';
  return undefined;
}

const errors = problemResponses(403, 404, 409, 422);

export function bookingRoutes(deps: BookingHttpDeps): FastifyPluginAsync {
  return (app) => {
    useStrictValidation(app);

    app.post<{ Body: ReserveBody }>(
      '/bookings',
      {
        schema: {
          tags: ['bookings'],
          summary: 'Reserve beds (held until paid or the hold expires)',
          body: S.ReserveBody,
          response: { 201: S.BookingView, ...errors },
        },
      },
      async (req, reply) => {
        const r = await reserveBooking(deps, { ...req.body, ...commandOf(req) });
        if (!r.ok) return sendErrors(reply, { statusOf, pathOf: reservationPathOf }, r.errors);
        return reportFlow(reply, r.events).code(201).header('location', `/bookings/${r.value.booking_id}`).send(r.value);
      },
    );

    app.post<{ Params: Static<typeof S.BookingParams>; Body: CancelBody }>(
      '/bookings/:booking_id/cancel',
      {
        schema: {
          tags: ['bookings'],
          summary: 'Cancel a booking (by its guest, before the check-in day)',
          params: S.BookingParams,
          body: S.CancelBody,
          response: { 200: S.BookingView, ...errors },
        },
      },
      async (req, reply) => {
        // A cancellation continues the booking's flow (its correlation_id), whatever x-correlation-id says.
        const r = await cancelBooking(deps, { booking_id: req.params.booking_id, guest_id: req.body.guest_id, command_id: req.id });
        if (!r.ok) return sendErrors(reply, { statusOf, pathOf: cancelPathOf }, r.errors);
        return reportFlow(reply, r.events).send(r.value);
      },
    );

    app.get<{ Params: Static<typeof S.BookingParams> }>(
      '/bookings/:booking_id',
      {
        schema: {
          tags: ['bookings'],
          summary: 'A booking',
          params: S.BookingParams,
          response: { 200: S.BookingView, ...problemResponses(404) },
        },
      },
      async (req, reply) => {
        const view = await getBooking(deps.queries, req.params.booking_id);
        if (!view) {
          return sendProblem(
            reply,
            problem(404, 'booking_not_found', `booking ${req.params.booking_id} does not exist`, [
              { path: '/params/booking_id', message: 'no booking has this id', code: 'booking_not_found' },
            ]),
          );
        }
        return reply.send(view);
      },
    );

    app.get<{ Params: Static<typeof S.GuestParams> }>(
      '/guests/:guest_id/bookings',
      {
        schema: {
          tags: ['bookings'],
          summary: "A guest's bookings, newest check-in first",
          params: S.GuestParams,
          response: { 200: S.BookingList, ...problemResponses() },
        },
      },
      async (req) => ({ bookings: await getGuestBookings(deps.queries, req.params.guest_id) }),
    );

    app.get<{ Params: Static<typeof S.AlbergueParams>; Querystring: Static<typeof AvailabilityQuery> }>(
      '/albergues/:albergue_id/availability',
      {
        schema: {
          tags: ['availability'],
          summary: 'Beds per night of an albergue over [from, to)',
          params: S.AlbergueParams,
          querystring: S.AvailabilityQuery,
          response: { 200: S.Availability, ...problemResponses(404) },
        },
      },
      async (req, reply) => {
        const r = await getAvailability(deps.queries, req.params.albergue_id, req.query.from, req.query.to);
        if (!r.ok) return sendErrors(reply, { statusOf, pathOf: availabilityPathOf }, r.errors);
        return reply.send(r.value);
      },
    );
    return Promise.resolve();
  };
}
