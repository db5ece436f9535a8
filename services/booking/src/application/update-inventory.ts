import type { AlbergueCapacityChanged, AlbergueRegistered, EnvelopeOf } from '@albergue/events';
import { evolveInventory } from '../domain/inventory.js';
import type { BookingTransaction } from './ports.js';
import { RetryLater } from './ports.js';

/**
 * AlbergueRegistered → booking's inventory knows the albergue (name, nightly price, beds).
 * Runs in the caller's (inbox) transaction; emits nothing.
 */
export async function updateInventoryOnAlbergueRegistered(
  tx: BookingTransaction,
  envelope: EnvelopeOf<typeof AlbergueRegistered>,
): Promise<void> {
  const current = await tx.loadInventory(envelope.payload.albergue_id, []);
  const next = evolveInventory(current, { type: 'AlbergueRegistered', data: envelope.payload });
  if (next) await tx.saveAlbergue(next);
}

/**
 * AlbergueCapacityChanged → the albergue's capacity schedule changes from `effective_from` on.
 * Bookings already made stay (a cut below the beds held leaves 0 available, never negative).
 * Before AlbergueRegistered has been applied it throws RetryLater, so the runtime retries it.
 */
export async function updateInventoryOnCapacityChanged(
  tx: BookingTransaction,
  envelope: EnvelopeOf<typeof AlbergueCapacityChanged>,
): Promise<void> {
  const current = await tx.loadInventory(envelope.payload.albergue_id, []);
  const next = evolveInventory(current, { type: 'AlbergueCapacityChanged', data: envelope.payload });
  if (!next) throw new RetryLater(`albergue ${envelope.payload.albergue_id} is not known yet (AlbergueRegistered not applied)`);
  await tx.saveAlbergue(next);
}
