import type { CancelBooking } from '../domain/booking.js';
import { decide } from '../domain/booking.js';
import type { BookingConfig, BookingRepository, BookingView, Clock } from './ports.js';
import type { CommandResult } from '@albergue/application';
import { localDate } from '@albergue/application';
import { bookingView, saveBookingDecision } from './support.js';

export interface CancelBookingInput {
  readonly booking_id: string;
  /** The guest asking; must be the booking's guest. */
  readonly guest_id: string;
  readonly command_id?: string;
}

export interface CancelBookingDeps {
  readonly repo: BookingRepository;
  readonly clock: Clock;
  readonly config: Pick<BookingConfig, 'timeZone'>;
}

/**
 * CancelBooking (by the guest) → BookingCancelled(guest_request); the beds are released in the same
 * transaction. Allowed while reserved or confirmed and before the check-in day; a confirmed
 * booking's payment is refunded by payment on this event.
 */
export async function cancelBooking(deps: CancelBookingDeps, input: CancelBookingInput): Promise<CommandResult<BookingView>> {
  const now = deps.clock.now();
  const command: CancelBooking = {
    type: 'CancelBooking',
    data: { booking_id: input.booking_id, guest_id: input.guest_id, now: now.toISOString(), today: localDate(now, deps.config.timeZone) },
  };
  return deps.repo.transaction(async (tx): Promise<CommandResult<BookingView>> => {
    const existing = await tx.loadBooking(input.booking_id);
    const state = existing?.state ?? { status: 'none' as const };
    const decision = decide(command, { booking: state });
    if (!decision.ok) return decision;
    const { envelopes, stored: record } = await saveBookingDecision(tx, state, decision.events, {
      correlation_id: existing?.correlation_id,
      causation_id: input.command_id ?? existing?.last_event_id,
    });
    if (!record) throw new Error('CancelBooking accepted without an event');
    return { ok: true, value: bookingView(record.state), events: envelopes };
  });
}
