import type { BookingReserved, EnvelopeOf } from '@albergue/events';
import type { DecisionLog } from '@albergue/application';
import { mayRemember } from '../domain/contact.js';
import type { NotificationTransaction } from './ports.js';

export interface RememberDeps {
  readonly decisions?: DecisionLog;
}

/** An instant in the one ISO format the read model compares (a malformed one sorts first). */
export const isoInstant = (s: string): string => {
  const ms = Date.parse(s);
  return Number.isNaN(ms) ? '0000-01-01T00:00:00.000Z' : new Date(ms).toISOString();
};

/**
 * BookingReserved → remember the guest's contact (name, email, locale) and the booking's facts
 * (albergue, dates, beds, total, and its guest). BookingReserved is the one event that carries a
 * contact; the triggers of messages name only the booking (or the guest). A newer contact of the
 * same guest is not overwritten by an older event, and a guest forgotten after the event occurred
 * stays forgotten (a replayed old event does not bring the contact back). Runs in the inbox transaction.
 */
export async function rememberContactOnBookingReserved(
  deps: RememberDeps,
  tx: NotificationTransaction,
  envelope: EnvelopeOf<typeof BookingReserved>,
): Promise<'remembered' | 'stale' | 'forgotten'> {
  const p = envelope.payload;
  const occurredAt = isoInstant(envelope.occurred_at);
  await tx.saveBooking({
    booking_id: p.booking_id,
    guest_id: p.guest.guest_id,
    albergue_id: p.albergue_id,
    check_in: p.check_in,
    check_out: p.check_out,
    beds: p.beds,
    total: p.total,
  });
  const verdict = mayRemember(await tx.contactOf(p.guest.guest_id), occurredAt);
  if (verdict === 'remember') {
    await tx.saveContact({
      guest_id: p.guest.guest_id,
      name: p.guest.name,
      email: p.guest.email,
      locale: p.guest.locale,
      as_of: occurredAt,
    });
    return 'remembered';
  }
  deps.decisions?.ignored({
    decision: 'RememberContact',
    ignored:
      verdict === 'stale'
        ? { code: 'newer_contact_known', reason: 'a newer BookingReserved of this guest already set the contact' }
        : { code: 'guest_forgotten', reason: 'the guest asked to be forgotten after this event occurred' },
    refs: { guest_id: p.guest.guest_id, booking_id: p.booking_id, event_id: envelope.event_id, correlation_id: envelope.correlation_id },
  });
  return verdict;
}
