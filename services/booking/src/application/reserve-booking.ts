import type { Guest, ReserveBooking } from '../domain/booking.js';
import { decide, NO_BOOKING, validateReservation } from '../domain/booking.js';
import { nightsOf } from '@albergue/decider';
import type { BookingConfig, BookingRepository, BookingView, Clock, IdGenerator } from './ports.js';
import type { CommandResult } from '@albergue/application';
import { localDate } from '@albergue/application';
import { bookingView, saveBookingDecision } from './support.js';

export interface ReserveBookingInput {
  readonly albergue_id: string;
  readonly guest: Guest;
  readonly check_in: string;
  readonly check_out: string;
  readonly beds: number;
  /** Id of the request that asked (causation of BookingReserved); the event's own id otherwise. */
  readonly command_id?: string;
  /** The flow the reservation joins (x-correlation-id); a new one (its event's id) otherwise. */
  readonly correlation_id?: string;
}

export interface ReserveBookingDeps {
  readonly repo: BookingRepository;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly config: BookingConfig;
}

/**
 * ReserveBooking → BookingReserved (a new flow: correlation_id = its event_id). Refused with every
 * problem: bad dates or beds (before any I/O), unknown albergue, a night without enough beds.
 * The availability check and the occupancy update happen in one transaction that holds the
 * albergue's inventory lock (see BookingTransaction.loadInventory), so racing requests for the
 * last beds serialise and never overbook.
 */
export async function reserveBooking(deps: ReserveBookingDeps, input: ReserveBookingInput): Promise<CommandResult<BookingView>> {
  const now = deps.clock.now();
  const command: ReserveBooking = {
    type: 'ReserveBooking',
    data: {
      booking_id: deps.ids(),
      albergue_id: input.albergue_id,
      guest: input.guest,
      check_in: input.check_in,
      check_out: input.check_out,
      beds: input.beds,
      now: now.toISOString(),
      today: localDate(now, deps.config.timeZone),
      hold_ms: deps.config.holdMs,
    },
  };
  const [first, ...more] = validateReservation(command.data);
  if (first) return { ok: false, errors: [first, ...more] };

  return deps.repo.transaction(async (tx): Promise<CommandResult<BookingView>> => {
    const existing = await tx.loadBooking(command.data.booking_id);
    const inventory = await tx.loadInventory(command.data.albergue_id, nightsOf(command.data.check_in, command.data.check_out));
    const state = existing?.state ?? NO_BOOKING;
    const decision = decide(command, { booking: state, inventory });
    if (!decision.ok) return decision;
    const { envelopes, stored: record } = await saveBookingDecision(tx, state, decision.events, {
      causation_id: input.command_id,
      correlation_id: input.correlation_id,
    });
    if (!record) throw new Error('ReserveBooking accepted without an event');
    return { ok: true, value: bookingView(record.state), events: envelopes };
  });
}
