// Readers waiting, in this process, for a booking's payment to appear or change (the long-poll
// `GET /bookings/:booking_id/payment?wait=`). The repository calls `notify` after a transaction that
// wrote a payment's projection commits; a reader `wait`s between reads instead of polling in a loop.

/** Why a wait ended: the booking was notified, or the time ran out (or the waiters were closed). */
export type WaitEnd = 'notified' | 'timeout';

/** A registered waiter. */
export interface Wait {
  readonly ended: Promise<WaitEnd>;
  /** Ends the wait now (idempotent). */
  cancel(): void;
}

/**
 * In-process wake-ups keyed by booking_id, bounded: at most `max` waiters at a time, so a crowd of
 * long-polling clients cannot hold unbounded memory or sockets (`tryWait` answers `undefined` when
 * full; the caller refuses with 503 + Retry-After). Only a commit in this process wakes a waiter:
 * with several instances the reader also re-reads at its own interval (see awaitPaymentOfBooking).
 */
export class PaymentWaiters {
  private readonly waiting = new Map<string, Set<(end: WaitEnd) => void>>();
  private count = 0;

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 0) throw new RangeError(`max waiters must be a non-negative integer, got ${max}`);
  }

  /** Waiters now. */
  get size(): number {
    return this.count;
  }

  /** Wakes every waiter of this booking (call it after the write committed). */
  notify(bookingId: string): void {
    const set = this.waiting.get(bookingId);
    if (!set) return;
    for (const wake of [...set]) wake('notified');
  }

  /**
   * Registers a waiter now (so a notify that comes while the caller reads the store is not missed):
   * `ended` resolves when `bookingId` is notified or after `ms`, whichever comes first; `cancel`
   * ends it early. `undefined` (nothing registered) when `max` waiters are already waiting.
   */
  tryWait(bookingId: string, ms: number): Wait | undefined {
    if (this.count >= this.max) return undefined;
    this.count++;
    let set = this.waiting.get(bookingId);
    if (!set) this.waiting.set(bookingId, (set = new Set()));
    const waiters = set;
    let end!: (why: WaitEnd) => void;
    const ended = new Promise<WaitEnd>((resolve) => {
      end = (why) => {
        if (!waiters.delete(end)) return;
        clearTimeout(timer);
        if (waiters.size === 0 && this.waiting.get(bookingId) === waiters) this.waiting.delete(bookingId);
        this.count--;
        resolve(why);
      };
    });
    const timer = setTimeout(() => end('timeout'), Math.max(0, ms));
    waiters.add(end);
    return { ended, cancel: () => end('timeout') };
  }

  /** Ends every wait now (as timeouts): the service is closing. */
  close(): void {
    for (const set of [...this.waiting.values()]) for (const end of [...set]) end('timeout');
  }
}
