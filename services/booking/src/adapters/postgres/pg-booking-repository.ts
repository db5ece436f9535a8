// BookingRepository + BookingTransaction on Postgres (pg Pool or PGlite, through the outbox
// package's SqlDatabase port). Schema: ./migrations.ts.
//
// Concurrency (the no-overbooking invariant): an albergue's occupancy only changes while its
// inventory_albergues row is locked. loadInventory locks it (SELECT … FOR UPDATE) and THEN reads the
// nights in a new statement (a new READ COMMITTED snapshot, taken after the lock is granted), and
// adjustOccupancy takes the same lock before `taken = taken + delta`. So reservations for one albergue
// serialise, other albergues proceed in parallel, and what a transaction read of the nights stays
// true until it commits. The schema's trigger refuses any increase past capacity as a second line
// of defence. Lock order is always booking row → albergue row → night rows (ascending), so
// reservations, cancellations and expiries racing on one albergue cannot deadlock.
import type { EventEnvelope } from '@albergue/events';
import type { SqlDatabase, SqlTransaction } from '@albergue/outbox';
import { Outbox } from '@albergue/outbox';
import type { AlbergueInventory, OccupancyDelta } from '../../domain/inventory.js';
import type { BookingRecord, BookingRepository, BookingTransaction } from '../../application/ports.js';
import type { BookingRow } from './inventory-sql.js';
import { readInventory, toRecord } from './inventory-sql.js';

export class PgBookingRepository implements BookingRepository {
  /**
   * @param db the service's database, migrated with `[...OUTBOX_MIGRATIONS, ...BOOKING_MIGRATIONS]`.
   * @param outbox the service's Outbox (share one per process: it coalesces the relay wake-ups);
   *   a new one on `db` by default.
   */
  constructor(
    private readonly db: SqlDatabase,
    private readonly outbox: Outbox = new Outbox(db),
  ) {}

  transaction<T>(work: (tx: BookingTransaction) => Promise<T>): Promise<T> {
    return this.db.transaction((tx) => work(this.forTransaction(tx)));
  }

  /**
   * The BookingTransaction port on a transaction someone else opened and will commit (the inbox
   * transaction an event handler runs in): its writes commit or roll back with that transaction.
   */
  forTransaction(tx: SqlTransaction): BookingTransaction {
    return new PgBookingTransaction(tx, this.outbox);
  }

  /**
   * Reserved bookings whose hold has lapsed, oldest first. `SKIP LOCKED` leaves out the bookings
   * another scheduler instance is expiring right now (their row is locked by its transaction); the
   * statement's own locks end with it, and the expiry handler re-checks each booking under lock.
   */
  async dueHolds(now: Date, limit: number): Promise<string[]> {
    const { rows } = await this.db.query<{ booking_id: string }>(
      `SELECT booking_id FROM bookings
        WHERE status = 'reserved' AND hold_expires_at <= $1::timestamptz
        ORDER BY hold_expires_at, booking_id
        LIMIT $2
        FOR UPDATE SKIP LOCKED`,
      [now.toISOString(), Math.max(0, Math.floor(limit))],
    );
    return rows.map((r) => r.booking_id);
  }
}

class PgBookingTransaction implements BookingTransaction {
  constructor(
    private readonly tx: SqlTransaction,
    private readonly outbox: Outbox,
  ) {}

  async loadBooking(bookingId: string): Promise<BookingRecord | undefined> {
    const { rows } = await this.tx.query<BookingRow>(
      'SELECT state, correlation_id, last_event_id FROM bookings WHERE booking_id = $1 FOR UPDATE',
      [bookingId],
    );
    const row = rows[0];
    return row && toRecord(row);
  }

  async loadInventory(albergueId: string, nights: readonly string[]): Promise<AlbergueInventory | undefined> {
    if (!(await this.lockAlbergue(albergueId))) return undefined;
    // A separate statement: its snapshot is taken now that the lock is held.
    return readInventory(this.tx, albergueId, nights);
  }

  async saveBooking(record: BookingRecord): Promise<void> {
    const s = record.state;
    const r = s.reservation;
    await this.tx.query(
      `INSERT INTO bookings (booking_id, albergue_id, guest_id, status, check_in, check_out, beds, hold_expires_at,
                             state, correlation_id, last_event_id)
       VALUES ($1, $2, $3, $4, $5::date, $6::date, $7, $8::timestamptz, $9::jsonb, $10, $11)
       ON CONFLICT (booking_id) DO UPDATE SET
         albergue_id = EXCLUDED.albergue_id, guest_id = EXCLUDED.guest_id, status = EXCLUDED.status,
         check_in = EXCLUDED.check_in, check_out = EXCLUDED.check_out, beds = EXCLUDED.beds,
         hold_expires_at = EXCLUDED.hold_expires_at, state = EXCLUDED.state,
         correlation_id = EXCLUDED.correlation_id, last_event_id = EXCLUDED.last_event_id, updated_at = now()`,
      [
        r.booking_id,
        r.albergue_id,
        r.guest.guest_id,
        s.status,
        r.check_in,
        r.check_out,
        r.beds,
        r.hold_expires_at,
        JSON.stringify(s),
        record.correlation_id,
        record.last_event_id,
      ],
    );
  }

  async adjustOccupancy(albergueId: string, deltas: readonly OccupancyDelta[]): Promise<void> {
    if (deltas.length === 0) return;
    // Occupancy changes only under the albergue's lock (already held after loadInventory).
    if (!(await this.lockAlbergue(albergueId))) throw new Error(`adjustOccupancy: albergue ${albergueId} is not known`);
    const nights = deltas.map((d) => d.night);
    // Missing nights start at 0. (Not one INSERT … ON CONFLICT DO UPDATE with the delta: the CHECK
    // taken >= 0 is tested on the proposed row before the conflict, so a release would fail.)
    await this.tx.query(
      `INSERT INTO inventory_nights (albergue_id, night, taken)
       SELECT DISTINCT $1, d.night, 0 FROM unnest($2::date[]) AS d(night) ORDER BY 2
       ON CONFLICT (albergue_id, night) DO NOTHING`,
      [albergueId, nights],
    );
    // Atomic per row: taken = taken + delta, never read-modify-write; repeated nights are summed.
    await this.tx.query(
      `UPDATE inventory_nights n SET taken = n.taken + d.beds
         FROM (SELECT night, sum(beds)::integer AS beds FROM unnest($2::date[], $3::integer[]) AS x(night, beds) GROUP BY night) d
        WHERE n.albergue_id = $1 AND n.night = d.night AND d.beds <> 0`,
      [albergueId, nights, deltas.map((d) => d.beds)],
    );
  }

  async saveAlbergue(inventory: AlbergueInventory): Promise<void> {
    const id = inventory.albergue_id;
    await this.tx.query(
      `INSERT INTO inventory_albergues (albergue_id, name, price_amount_minor, price_currency, beds)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (albergue_id) DO UPDATE SET name = EXCLUDED.name, price_amount_minor = EXCLUDED.price_amount_minor,
         price_currency = EXCLUDED.price_currency, beds = EXCLUDED.beds, updated_at = now()`,
      [id, inventory.name, inventory.nightly_price.amount_minor, inventory.nightly_price.currency, inventory.beds],
    );
    // The schedule is replaced as a whole (the domain already folded the change into it).
    await this.tx.query('DELETE FROM inventory_capacity_changes WHERE albergue_id = $1', [id]);
    if (inventory.capacity_changes.length > 0) {
      await this.tx.query(
        `INSERT INTO inventory_capacity_changes (albergue_id, effective_from, beds)
         SELECT $1, c.effective_from, c.beds FROM unnest($2::date[], $3::integer[]) AS c(effective_from, beds)`,
        [id, inventory.capacity_changes.map((c) => c.effective_from), inventory.capacity_changes.map((c) => c.beds)],
      );
    }
  }

  async appendToOutbox(envelopes: readonly EventEnvelope[]): Promise<void> {
    await this.outbox.append(this.tx, envelopes);
  }

  /** Locks the albergue's inventory row until commit; false when booking does not know it. */
  private async lockAlbergue(albergueId: string): Promise<boolean> {
    const { rows } = await this.tx.query('SELECT 1 AS found FROM inventory_albergues WHERE albergue_id = $1 FOR UPDATE', [albergueId]);
    return rows.length > 0;
  }
}
