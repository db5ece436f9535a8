// The booking decider: a reservation holds beds until it is paid (confirmed), cancelled, or its hold
// lapses (expired). `decide(command, state) → events`, `evolve(state, event) → state`; pure.
//
//   none ──Reserve──▶ reserved ──PaymentConfirmed──▶ confirmed
//                        │  ├──PaymentFailed──▶ cancelled(payment_failed)
//                        │  ├──guest cancels──▶ cancelled(guest_request)   ◀── also from confirmed
//                        │  └──hold lapses──▶ expired
//
// Late payment (decided here, see `confirm`): the hold is checked when the payment arrives, not only
// by the expiry sweep. A PaymentConfirmed decided at or after `hold_expires_at` (booking's clock when
// it decides, or the payment's own confirmed_at, whichever is later) expires the still-reserved
// booking (ReservationExpired) instead of confirming it, whatever the sweep's timing; one for a
// booking already expired or cancelled changes nothing. Either way the refund is payment's job:
// payment subscribes to ReservationExpired and BookingCancelled and refunds a payment that settled
// (or settles later) for a booking that ended (PaymentRefunded).
// The same holds for a guest cancelling a confirmed booking: the beds are released and payment
// refunds on BookingCancelled(guest_request).
import type { BookingCancelled, BookingConfirmed, BookingReserved, DeepReadonly, PayloadOf, ReservationExpired } from '@albergue/events';
import { LOCALE_PATTERN } from '@albergue/events';
import { addDays, addMilliseconds, daysBetween, isAtOrAfter, isCalendarDate, isInstant, nightsOf } from '@albergue/decider';
import type { AlbergueInventory, OccupancyDelta } from './inventory.js';
import { shortages } from './inventory.js';
import type { Decision, DomainError } from '@albergue/decider';
import { accept, assertNever, ignore, reject } from '@albergue/decider';

const LOCALE = new RegExp(LOCALE_PATTERN);

export const MAX_NIGHTS = 30;
export const MAX_BEDS = 50;
/** Reservations open this many days ahead of check-in at most. */
export const MAX_DAYS_AHEAD = 365;

// ── Events: the payloads of the shared definitions ─────────────────────────────────────────────
export type Reservation = DeepReadonly<PayloadOf<typeof BookingReserved>>;
export type BookingEvent =
  | { readonly type: 'BookingReserved'; readonly data: Reservation }
  | { readonly type: 'BookingConfirmed'; readonly data: DeepReadonly<PayloadOf<typeof BookingConfirmed>> }
  | { readonly type: 'BookingCancelled'; readonly data: DeepReadonly<PayloadOf<typeof BookingCancelled>> }
  | { readonly type: 'ReservationExpired'; readonly data: DeepReadonly<PayloadOf<typeof ReservationExpired>> };
export type CancelReason = PayloadOf<typeof BookingCancelled>['reason'];
export type Guest = Reservation['guest'];

// ── State ──────────────────────────────────────────────────────────────────────────────────────
export type BookingState =
  | { readonly status: 'none' }
  | { readonly status: 'reserved'; readonly reservation: Reservation }
  | { readonly status: 'confirmed'; readonly reservation: Reservation; readonly payment_id: string; readonly confirmed_at: string }
  | { readonly status: 'cancelled'; readonly reservation: Reservation; readonly reason: CancelReason; readonly cancelled_at: string }
  | { readonly status: 'expired'; readonly reservation: Reservation; readonly expired_at: string };

export type BookingStatus = BookingState['status'];
export const NO_BOOKING: BookingState = { status: 'none' };

// ── Commands (the clock's reading comes in with the command: `now` instant, `today` local date) ──
export interface ReserveBooking {
  readonly type: 'ReserveBooking';
  readonly data: {
    readonly booking_id: string;
    readonly albergue_id: string;
    readonly guest: Guest;
    readonly check_in: string;
    readonly check_out: string;
    readonly beds: number;
    readonly now: string;
    /** Today's date where the albergues are (Europe/Madrid): check-in may not be earlier. */
    readonly today: string;
    /** How long the beds are held waiting for payment. */
    readonly hold_ms: number;
  };
}
export interface CancelBooking {
  readonly type: 'CancelBooking';
  readonly data: { readonly booking_id: string; readonly guest_id: string; readonly now: string; readonly today: string };
}
/** From PaymentConfirmed. */
export interface ConfirmBooking {
  readonly type: 'ConfirmBooking';
  readonly data: {
    readonly booking_id: string;
    readonly payment_id: string;
    readonly amount: Reservation['total'];
    /** When booking decides (its clock). */
    readonly now: string;
    /** When the payment settled (PaymentConfirmed.confirmed_at); a payment settled after the hold is late too. */
    readonly paid_at?: string;
  };
}
/** From PaymentFailed. */
export interface CancelForFailedPayment {
  readonly type: 'CancelForFailedPayment';
  readonly data: { readonly booking_id: string; readonly payment_id: string; readonly now: string };
}
/** From the hold-expiry scheduler. */
export interface ExpireReservation {
  readonly type: 'ExpireReservation';
  readonly data: { readonly booking_id: string; readonly now: string };
}
export type BookingCommand = ReserveBooking | CancelBooking | ConfirmBooking | CancelForFailedPayment | ExpireReservation;

export type BookingErrorCode =
  | 'booking_exists'
  | 'booking_not_found'
  | 'not_your_booking'
  | 'booking_not_active'
  | 'stay_started'
  | 'invalid_date'
  | 'check_out_not_after_check_in'
  | 'too_many_nights'
  | 'check_in_in_past'
  | 'check_in_too_far_ahead'
  | 'invalid_beds'
  | 'invalid_guest'
  | 'invalid_hold'
  | 'unknown_albergue'
  | 'no_beds_left';

/** What decide needs: the booking, and for a reservation the albergue's inventory over the stay's nights. */
export interface BookingDecisionState {
  readonly booking: BookingState;
  /** Required by ReserveBooking (undefined: booking does not know the albergue); ignored otherwise. */
  readonly inventory?: AlbergueInventory | undefined;
}

export type BookingDecision = Decision<BookingEvent, BookingErrorCode>;

export function decide(command: BookingCommand, state: BookingDecisionState): BookingDecision {
  switch (command.type) {
    case 'ReserveBooking':
      return reserve(command.data, state.booking, state.inventory);
    case 'CancelBooking':
      return cancelByGuest(command.data, state.booking);
    case 'ConfirmBooking':
      return confirm(command.data, state.booking);
    case 'CancelForFailedPayment':
      return cancelForFailedPayment(command.data, state.booking);
    case 'ExpireReservation':
      return expire(command.data, state.booking);
    default:
      return assertNever(command);
  }
}

export function evolve(state: BookingState, event: BookingEvent): BookingState {
  switch (event.type) {
    case 'BookingReserved':
      return { status: 'reserved', reservation: event.data };
    case 'BookingConfirmed':
      return state.status === 'reserved'
        ? { status: 'confirmed', reservation: state.reservation, payment_id: event.data.payment_id, confirmed_at: event.data.confirmed_at }
        : state;
    case 'BookingCancelled':
      return state.status === 'reserved' || state.status === 'confirmed'
        ? { status: 'cancelled', reservation: state.reservation, reason: event.data.reason, cancelled_at: event.data.cancelled_at }
        : state;
    case 'ReservationExpired':
      return state.status === 'reserved' ? { status: 'expired', reservation: state.reservation, expired_at: event.data.expired_at } : state;
    default:
      return assertNever(event);
  }
}

/** Folds a booking's events from the start. */
export function replay(events: readonly BookingEvent[]): BookingState {
  return events.reduce(evolve, NO_BOOKING);
}

/** True while the booking holds beds (reserved or confirmed). */
export function holdsBeds(state: BookingState): state is Extract<BookingState, { status: 'reserved' | 'confirmed' }> {
  return state.status === 'reserved' || state.status === 'confirmed';
}

/**
 * How the per-night occupancy of the booking's albergue changes between two states of a booking:
 * +beds on every night when it starts holding beds, −beds when it stops, nothing otherwise.
 */
export function occupancyChange(before: BookingState, after: BookingState): OccupancyDelta[] {
  const held = (s: BookingState) => (holdsBeds(s) ? s.reservation : undefined);
  const b = held(before);
  const a = held(after);
  if (b && !a) return nightsOf(b.check_in, b.check_out).map((night) => ({ night, beds: -b.beds }));
  if (a && !b) return nightsOf(a.check_in, a.check_out).map((night) => ({ night, beds: a.beds }));
  return [];
}

// ── Decisions ──────────────────────────────────────────────────────────────────────────────────

/** Problems with a reservation request that do not depend on any state, all of them. */
export function validateReservation(c: ReserveBooking['data']): DomainError<BookingErrorCode>[] {
  const errors: DomainError<BookingErrorCode>[] = [];
  const datesOk = isCalendarDate(c.check_in) && isCalendarDate(c.check_out);
  if (!isCalendarDate(c.check_in)) errors.push({ code: 'invalid_date', reason: `check_in "${c.check_in}" is not a date (YYYY-MM-DD)` });
  if (!isCalendarDate(c.check_out)) errors.push({ code: 'invalid_date', reason: `check_out "${c.check_out}" is not a date (YYYY-MM-DD)` });
  if (datesOk) {
    const nights = daysBetween(c.check_in, c.check_out);
    if (nights < 1)
      errors.push({ code: 'check_out_not_after_check_in', reason: `check_out (${c.check_out}) must be after check_in (${c.check_in})` });
    else if (nights > MAX_NIGHTS)
      errors.push({
        code: 'too_many_nights',
        reason: `a booking covers at most ${MAX_NIGHTS} nights; ${c.check_in} to ${c.check_out} is ${nights}`,
      });
    if (c.check_in < c.today)
      errors.push({ code: 'check_in_in_past', reason: `check_in (${c.check_in}) is in the past (today is ${c.today})` });
    else if (daysBetween(c.today, c.check_in) > MAX_DAYS_AHEAD) {
      errors.push({
        code: 'check_in_too_far_ahead',
        reason: `reservations open at most ${MAX_DAYS_AHEAD} days ahead (until ${addDays(c.today, MAX_DAYS_AHEAD)})`,
      });
    }
  }
  if (!Number.isInteger(c.beds) || c.beds < 1 || c.beds > MAX_BEDS) {
    errors.push({ code: 'invalid_beds', reason: `beds must be a whole number from 1 to ${MAX_BEDS}, got ${c.beds}` });
  }
  const name = c.guest.name.trim();
  if (name.length < 1 || name.length > 200) errors.push({ code: 'invalid_guest', reason: 'guest name must have 1 to 200 characters' });
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(c.guest.email) || c.guest.email.length > 320) {
    errors.push({ code: 'invalid_guest', reason: `guest email "${c.guest.email}" is not an email address` });
  }
  if (!LOCALE.test(c.guest.locale))
    errors.push({ code: 'invalid_guest', reason: `guest locale "${c.guest.locale}" must look like "es" or "en-GB"` });
  if (c.guest.guest_id.length < 1 || c.guest.guest_id.length > 128)
    errors.push({ code: 'invalid_guest', reason: 'guest_id must have 1 to 128 characters' });
  if (!isInstant(c.now) || !Number.isInteger(c.hold_ms) || c.hold_ms <= 0)
    errors.push({ code: 'invalid_hold', reason: 'the hold needs a valid clock reading and a positive duration' });
  return errors;
}

function reserve(c: ReserveBooking['data'], booking: BookingState, inventory: AlbergueInventory | undefined): BookingDecision {
  if (booking.status !== 'none') return reject({ code: 'booking_exists', reason: `booking ${c.booking_id} already exists` });
  const [first, ...more] = validateReservation(c);
  if (first) return reject(first, ...more);
  if (!inventory || inventory.albergue_id !== c.albergue_id) {
    return reject({ code: 'unknown_albergue', reason: `albergue ${c.albergue_id} is not known` });
  }
  const short = shortages(inventory, c);
  const [s0, ...sN] = short.map((n): DomainError<BookingErrorCode> => ({
    code: 'no_beds_left',
    reason:
      n.available === 0
        ? `no beds left at ${inventory.name} on the night of ${n.night}`
        : `only ${n.available} of the ${c.beds} beds asked for are left at ${inventory.name} on the night of ${n.night}`,
  }));
  if (s0) return reject(s0, ...sN);
  const nights = daysBetween(c.check_in, c.check_out);
  return accept<BookingEvent>({
    type: 'BookingReserved',
    data: {
      booking_id: c.booking_id,
      albergue_id: c.albergue_id,
      guest: { guest_id: c.guest.guest_id, name: c.guest.name.trim(), email: c.guest.email, locale: c.guest.locale },
      check_in: c.check_in,
      check_out: c.check_out,
      beds: c.beds,
      total: { amount_minor: nights * c.beds * inventory.nightly_price.amount_minor, currency: inventory.nightly_price.currency },
      hold_expires_at: addMilliseconds(c.now, c.hold_ms),
    },
  });
}

function cancelByGuest(c: CancelBooking['data'], booking: BookingState): BookingDecision {
  if (booking.status === 'none') return reject({ code: 'booking_not_found', reason: `booking ${c.booking_id} does not exist` });
  if (booking.reservation.guest.guest_id !== c.guest_id)
    return reject({ code: 'not_your_booking', reason: `booking ${c.booking_id} belongs to another guest` });
  if (!holdsBeds(booking)) return reject({ code: 'booking_not_active', reason: `booking ${c.booking_id} is already ${booking.status}` });
  if (c.today >= booking.reservation.check_in) {
    return reject({
      code: 'stay_started',
      reason: `booking ${c.booking_id} starts on ${booking.reservation.check_in}; it can no longer be cancelled`,
    });
  }
  return accept<BookingEvent>({
    type: 'BookingCancelled',
    data: { booking_id: c.booking_id, albergue_id: booking.reservation.albergue_id, reason: 'guest_request', cancelled_at: c.now },
  });
}

/**
 * Confirms only a booking that is still reserved and whose hold has not ended: a payment decided at or
 * after `hold_expires_at` (see the header) expires the booking instead (ReservationExpired; payment
 * refunds on it), even if the expiry sweep has not run yet. Expired or cancelled: ignored (late
 * payment); confirmed already: ignored (the same PaymentConfirmed twice, or a second payment).
 */
function confirm(c: ConfirmBooking['data'], booking: BookingState): BookingDecision {
  switch (booking.status) {
    case 'none':
      return ignore('booking_not_found', `payment ${c.payment_id} is for booking ${c.booking_id}, which does not exist`);
    case 'confirmed':
      return booking.payment_id === c.payment_id
        ? ignore('already_confirmed', `booking ${c.booking_id} is already confirmed by payment ${c.payment_id}`)
        : ignore(
            'paid_twice',
            `booking ${c.booking_id} is already confirmed by payment ${booking.payment_id}; payment ${c.payment_id} does not change it`,
          );
    case 'cancelled':
    case 'expired':
      return ignore(
        'late_payment',
        `payment ${c.payment_id} settled after booking ${c.booking_id} was ${booking.status}; the booking stays ${booking.status} and payment refunds it`,
      );
    case 'reserved': {
      const hold = booking.reservation.hold_expires_at;
      const paidLate = c.paid_at !== undefined && isInstant(c.paid_at) && isAtOrAfter(c.paid_at, hold);
      if (isAtOrAfter(c.now, hold) || paidLate) {
        // The hold has ended: the beds are released now rather than kept for a payment that came too late.
        return accept<BookingEvent>({
          type: 'ReservationExpired',
          data: { booking_id: c.booking_id, albergue_id: booking.reservation.albergue_id, hold_expires_at: hold, expired_at: c.now },
        });
      }
      const total = booking.reservation.total;
      if (c.amount.amount_minor !== total.amount_minor || c.amount.currency !== total.currency) {
        // Not confirmed: the hold then expires and payment refunds on ReservationExpired.
        return ignore(
          'amount_mismatch',
          `payment ${c.payment_id} is for ${c.amount.amount_minor} ${c.amount.currency}, booking ${c.booking_id} costs ${total.amount_minor} ${total.currency}`,
        );
      }
      return accept<BookingEvent>({
        type: 'BookingConfirmed',
        data: { booking_id: c.booking_id, albergue_id: booking.reservation.albergue_id, payment_id: c.payment_id, confirmed_at: c.now },
      });
    }
    default:
      return assertNever(booking);
  }
}

function cancelForFailedPayment(c: CancelForFailedPayment['data'], booking: BookingState): BookingDecision {
  if (booking.status === 'none')
    return ignore('booking_not_found', `payment ${c.payment_id} failed for booking ${c.booking_id}, which does not exist`);
  if (booking.status !== 'reserved')
    return ignore('booking_not_reserved', `booking ${c.booking_id} is ${booking.status}; a failed payment does not change it`);
  return accept<BookingEvent>({
    type: 'BookingCancelled',
    data: { booking_id: c.booking_id, albergue_id: booking.reservation.albergue_id, reason: 'payment_failed', cancelled_at: c.now },
  });
}

function expire(c: ExpireReservation['data'], booking: BookingState): BookingDecision {
  if (booking.status !== 'reserved')
    return ignore('booking_not_reserved', `booking ${c.booking_id} is ${booking.status}; nothing to expire`);
  if (!isAtOrAfter(c.now, booking.reservation.hold_expires_at)) {
    return ignore('hold_not_due', `the hold on booking ${c.booking_id} lasts until ${booking.reservation.hold_expires_at}`);
  }
  return accept<BookingEvent>({
    type: 'ReservationExpired',
    data: {
      booking_id: c.booking_id,
      albergue_id: booking.reservation.albergue_id,
      hold_expires_at: booking.reservation.hold_expires_at,
      expired_at: c.now,
    },
  });
}
