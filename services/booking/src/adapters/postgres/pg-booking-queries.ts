// BookingQueries on Postgres: reads of the bookings table and the inventory, no locks, no
// transaction (each read is one statement, so one consistent snapshot).
import type { SqlExecutor } from '@albergue/outbox';
import type { AlbergueInventory } from '../../domain/inventory.js';
import type { BookingQueries, BookingView } from '../../application/ports.js';
import { bookingView } from '../../application/support.js';
import type { BookingRow } from './inventory-sql.js';
import { readInventory } from './inventory-sql.js';

export class PgBookingQueries implements BookingQueries {
  /** @param db the service's database (or anything that runs statements on it, e.g. a read replica). */
  constructor(private readonly db: SqlExecutor) {}

  async findBooking(bookingId: string): Promise<BookingView | undefined> {
    const { rows } = await this.db.query<Pick<BookingRow, 'state'>>('SELECT state FROM bookings WHERE booking_id = $1', [bookingId]);
    const row = rows[0];
    return row && bookingView(row.state);
  }

  async bookingsOfGuest(guestId: string): Promise<BookingView[]> {
    const { rows } = await this.db.query<Pick<BookingRow, 'state'>>(
      'SELECT state FROM bookings WHERE guest_id = $1 ORDER BY check_in DESC, created_at DESC, booking_id',
      [guestId],
    );
    return rows.map((r) => bookingView(r.state));
  }

  inventory(albergueId: string, nights: readonly string[]): Promise<AlbergueInventory | undefined> {
    return readInventory(this.db, albergueId, nights);
  }
}
