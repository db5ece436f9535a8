import type { Clock } from '@albergue/application';
import type { ContactEraser } from './ports.js';

export interface ForgetDeps {
  readonly clock: Clock;
  readonly contacts: ContactEraser;
}

/**
 * ForgetContact (DELETE /contacts/{guest_id}): erases the guest's name, email and locale. What stays
 * is a tombstone (guest id and when it was forgotten, so that a replayed older BookingReserved does not
 * bring the contact back) and the notifications already recorded, whose recipient was only ever kept
 * masked. Messages triggered later for this guest fail with contact_forgotten. Idempotent.
 */
export async function forgetContact(
  deps: ForgetDeps,
  guestId: string,
): Promise<{ readonly forgotten: boolean; readonly forgotten_at: string }> {
  const at = deps.clock.now().toISOString();
  return { forgotten: await deps.contacts.forget(guestId, at), forgotten_at: at };
}
