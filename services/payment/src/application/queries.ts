import type { PaymentQueries, PaymentView } from './ports.js';
import type { PaymentWaiters } from './payment-waiters.js';

export function getPayment(queries: PaymentQueries, paymentId: string): Promise<PaymentView | undefined> {
  return queries.findPayment(paymentId);
}

export function getPaymentOfBooking(queries: PaymentQueries, bookingId: string): Promise<PaymentView | undefined> {
  return queries.findPaymentOfBooking(bookingId);
}

/** What a long-poll for a booking's payment found: the payment, nothing within the wait, or too many waiting already. */
export type AwaitedPayment =
  { readonly status: 'found'; readonly view: PaymentView } | { readonly status: 'not_found' } | { readonly status: 'busy' };

/**
 * The booking's payment, waiting up to `waitMs` for it to appear: reads once, then sleeps until this
 * process commits a payment of the booking (`waiters`) or `recheckMs` passes (another instance may
 * have written it), and reads again, until found or the wait is over. `busy` when no waiter slot is
 * free (the caller refuses with Retry-After); a read that finds the payment needs no slot.
 */
export async function awaitPaymentOfBooking(
  deps: { readonly queries: PaymentQueries; readonly waiters: PaymentWaiters; readonly recheckMs: number; readonly now?: () => number },
  bookingId: string,
  waitMs: number,
): Promise<AwaitedPayment> {
  const now = deps.now ?? Date.now;
  const deadline = now() + waitMs;
  for (;;) {
    const left = deadline - now();
    // Registered before the read: a commit that lands while the read runs still wakes this wait.
    const wait = left > 0 ? deps.waiters.tryWait(bookingId, Math.min(left, deps.recheckMs)) : undefined;
    const view = await deps.queries.findPaymentOfBooking(bookingId);
    if (view) {
      wait?.cancel();
      return { status: 'found', view };
    }
    if (left <= 0) return { status: 'not_found' };
    if (!wait) return { status: 'busy' };
    await wait.ended;
  }
}
