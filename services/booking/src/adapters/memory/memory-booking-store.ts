// In-memory BookingRepository + BookingQueries: transactions run one at a time and roll back on a
// throw. For tests and for running booking without a database; the Postgres adapter is the real one.
import type { EventEnvelope } from '@albergue/events';
import type { AlbergueInventory, OccupancyDelta } from '../../domain/inventory.js';
import type { BookingQueries, BookingRecord, BookingRepository, BookingTransaction, BookingView } from '../../application/ports.js';
import { bookingView } from '../../application/support.js';

interface Data {
  bookings: Map<string, BookingRecord>;
  albergues: Map<string, Omit<AlbergueInventory, 'taken'>>;
  occupancy: Map<string, Map<string, number>>;
  outbox: EventEnvelope[];
}

function copy(d: Data): Data {
  return {
    bookings: new Map(d.bookings),
    albergues: new Map(d.albergues),
    occupancy: new Map([...d.occupancy].map(([k, v]) => [k, new Map(v)])),
    outbox: [...d.outbox],
  };
}

export class MemoryBookingStore implements BookingRepository, BookingQueries {
  private data: Data = { bookings: new Map(), albergues: new Map(), occupancy: new Map(), outbox: [] };
  private queue: Promise<unknown> = Promise.resolve();

  /** Every envelope appended to the outbox, in commit order. */
  get outbox(): readonly EventEnvelope[] {
    return this.data.outbox;
  }

  transaction<T>(work: (tx: BookingTransaction) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      const snapshot = copy(this.data);
      try {
        return await work(this.tx());
      } catch (err) {
        this.data = snapshot;
        throw err;
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  dueHolds(now: Date, limit: number): Promise<string[]> {
    const due = [...this.data.bookings.values()]
      .filter((r) => r.state.status === 'reserved' && Date.parse(r.state.reservation.hold_expires_at) <= now.getTime())
      .sort((a, b) => a.state.reservation.hold_expires_at.localeCompare(b.state.reservation.hold_expires_at))
      .slice(0, limit)
      .map((r) => r.state.reservation.booking_id);
    return Promise.resolve(due);
  }

  findBooking(bookingId: string): Promise<BookingView | undefined> {
    const r = this.data.bookings.get(bookingId);
    return Promise.resolve(r && bookingView(r.state));
  }

  bookingsOfGuest(guestId: string): Promise<BookingView[]> {
    const views = [...this.data.bookings.values()]
      .filter((r) => r.state.reservation.guest.guest_id === guestId)
      .map((r) => bookingView(r.state))
      .sort((a, b) => b.check_in.localeCompare(a.check_in));
    return Promise.resolve(views);
  }

  inventory(albergueId: string, nights: readonly string[]): Promise<AlbergueInventory | undefined> {
    return Promise.resolve(this.readInventory(albergueId, nights));
  }

  private readInventory(albergueId: string, nights: readonly string[]): AlbergueInventory | undefined {
    const a = this.data.albergues.get(albergueId);
    if (!a) return undefined;
    const occ = this.data.occupancy.get(albergueId);
    const taken: Record<string, number> = {};
    for (const night of nights) taken[night] = occ?.get(night) ?? 0;
    return { ...a, taken };
  }

  private tx(): BookingTransaction {
    return {
      loadBooking: (id) => Promise.resolve(this.data.bookings.get(id)),
      loadInventory: (albergueId, nights) => Promise.resolve(this.readInventory(albergueId, nights)),
      saveBooking: (record) => {
        this.data.bookings.set(record.state.reservation.booking_id, record);
        return Promise.resolve();
      },
      adjustOccupancy: (albergueId: string, deltas: readonly OccupancyDelta[]) => {
        const occ = this.data.occupancy.get(albergueId) ?? new Map<string, number>();
        for (const d of deltas) occ.set(d.night, (occ.get(d.night) ?? 0) + d.beds);
        this.data.occupancy.set(albergueId, occ);
        return Promise.resolve();
      },
      saveAlbergue: (inventory) => {
        const { taken: _taken, ...rest } = inventory;
        this.data.albergues.set(inventory.albergue_id, rest);
        return Promise.resolve();
      },
      appendToOutbox: (envelopes) => {
        this.data.outbox.push(...envelopes);
        return Promise.resolve();
      },
    };
  }
}
