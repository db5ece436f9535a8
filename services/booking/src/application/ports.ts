// The ports booking's application layer needs. The Postgres adapter implements BookingRepository and
// BookingTransaction on one SqlExecutor (the outbox's `append` and the inbox share that transaction);
// an in-memory implementation lives in adapters/memory for tests and the embedded demo.
import type { EventEnvelope } from '@albergue/events';
import type { BookingState } from '../domain/booking.js';
import type { AlbergueInventory, OccupancyDelta } from '../domain/inventory.js';

export type { Clock, IdGenerator } from '@albergue/application';

export interface BookingConfig {
  /** How long a reservation holds its beds waiting for payment (BOOKING_HOLD_MS, default 15 minutes). */
  readonly holdMs: number;
  /** Where "today" is decided for the not-in-the-past rule (default Europe/Madrid). */
  readonly timeZone: string;
}

export const DEFAULT_BOOKING_CONFIG: BookingConfig = { holdMs: 15 * 60 * 1000, timeZone: 'Europe/Madrid' };

/** A stored booking: its state plus what later events of its flow need. */
export interface BookingRecord {
  readonly state: Exclude<BookingState, { status: 'none' }>;
  /** The flow this booking belongs to: the correlation_id of its BookingReserved. */
  readonly correlation_id: string;
  /** event_id of the booking's latest event (a later event of the flow can name it as its cause). */
  readonly last_event_id: string;
}

export interface BookingRepository {
  /**
   * Runs `work` in one database transaction: commits when it resolves, rolls back when it throws.
   * Everything written through the transaction (bookings, occupancy, inventory, outbox rows)
   * commits together or not at all.
   */
  transaction<T>(work: (tx: BookingTransaction) => Promise<T>): Promise<T>;
  /**
   * Ids of reserved bookings whose hold_expires_at ≤ `now`, oldest first, at most `limit`.
   * Read outside any transaction; the expiry handler re-checks each under lock, so several
   * schedulers may see the same ids (the adapter may also skip rows locked by another instance).
   */
  dueHolds(now: Date, limit: number): Promise<string[]>;
}

export interface BookingTransaction {
  /** The booking, locked until commit (`SELECT … FOR UPDATE`); undefined when there is none. */
  loadBooking(bookingId: string): Promise<BookingRecord | undefined>;
  /**
   * The albergue's inventory with `taken` filled for at least `nights` (the others may be absent),
   * or undefined when booking has not heard of the albergue.
   *
   * Concurrency contract (the no-overbooking invariant rests on it): the returned occupancy must not
   * change under this transaction until it commits. Lock the albergue's inventory row
   * (`SELECT … FOR UPDATE`) before reading the nights, so reservations for one albergue serialise
   * while other albergues proceed in parallel.
   */
  loadInventory(albergueId: string, nights: readonly string[]): Promise<AlbergueInventory | undefined>;
  /** Inserts or updates the booking (and the query projection of it). */
  saveBooking(record: BookingRecord): Promise<void>;
  /**
   * Adds the deltas to the albergue's beds held per night, atomically per row
   * (`taken = taken + $delta`, inserting missing nights at 0). Never a read-modify-write.
   */
  adjustOccupancy(albergueId: string, deltas: readonly OccupancyDelta[]): Promise<void>;
  /** Stores the albergue's name, price, base beds and capacity schedule; never touches occupancy. */
  saveAlbergue(inventory: AlbergueInventory): Promise<void>;
  /** Inserts the envelopes into outbox_events in this transaction, in order. */
  appendToOutbox(envelopes: readonly EventEnvelope[]): Promise<void>;
}

/** What queries show of a booking. */
export interface BookingView {
  readonly booking_id: string;
  readonly albergue_id: string;
  readonly status: BookingState['status'];
  readonly guest: { readonly guest_id: string; readonly name: string; readonly email: string; readonly locale: string };
  readonly check_in: string;
  readonly check_out: string;
  readonly nights: number;
  readonly beds: number;
  readonly total: { readonly amount_minor: number; readonly currency: string };
  readonly hold_expires_at: string;
  readonly payment_id?: string;
  readonly confirmed_at?: string;
  readonly cancelled_at?: string;
  readonly cancel_reason?: string;
  readonly expired_at?: string;
}

/** Read side: projections only, no locks. */
export interface BookingQueries {
  findBooking(bookingId: string): Promise<BookingView | undefined>;
  /** Newest check-in first. */
  bookingsOfGuest(guestId: string): Promise<BookingView[]>;
  /** As BookingTransaction.loadInventory, without locking. */
  inventory(albergueId: string, nights: readonly string[]): Promise<AlbergueInventory | undefined>;
}

/** Thrown by an event handler when the event cannot be applied yet; the delivery runtime retries it. */
export class RetryLater extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RetryLater';
  }
}
