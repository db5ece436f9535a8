// In-memory PaymentRepository + PaymentQueries: transactions run one at a time and roll back on a
// throw. For tests and for running payment without a database; the Postgres adapter is the real one.
import type { EventEnvelope } from '@albergue/events';
import type { PaymentQueries, PaymentRecord, PaymentRepository, PaymentTransaction, PaymentView } from '../../application/ports';
import { PaymentConflictError } from '../../application/ports';
import { paymentView } from '../../application/support';

interface Data {
  byBooking: Map<string, PaymentRecord>;
  outbox: EventEnvelope[];
}

const bookingOf = (r: PaymentRecord) => (r.state.status === 'booking_ended' ? r.state.booking_id : r.state.payment.booking_id);
const paymentOf = (r: PaymentRecord) => (r.state.status === 'booking_ended' ? undefined : r.state.payment.payment_id);

export class MemoryPaymentStore implements PaymentRepository, PaymentQueries {
  private data: Data = { byBooking: new Map(), outbox: [] };
  private queue: Promise<unknown> = Promise.resolve();

  /** Every envelope appended to the outbox, in commit order. */
  get outbox(): readonly EventEnvelope[] {
    return this.data.outbox;
  }

  transaction<T>(work: (tx: PaymentTransaction) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      const snapshot: Data = { byBooking: new Map(this.data.byBooking), outbox: [...this.data.outbox] };
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

  pendingRefunds(limit: number): Promise<string[]> {
    const ids = [...this.data.byBooking.values()]
      .flatMap((r) => (r.state.status === 'refund_pending' ? [{ id: r.state.payment.payment_id, at: r.state.requested_at }] : []))
      .sort((a, b) => a.at.localeCompare(b.at))
      .slice(0, limit)
      .map((x) => x.id);
    return Promise.resolve(ids);
  }

  findPayment(paymentId: string): Promise<PaymentView | undefined> {
    const r = this.byPayment(paymentId);
    return Promise.resolve(r && paymentView(r.state));
  }

  findPaymentOfBooking(bookingId: string): Promise<PaymentView | undefined> {
    const r = this.data.byBooking.get(bookingId);
    return Promise.resolve(r && paymentView(r.state));
  }

  private byPayment(paymentId: string): PaymentRecord | undefined {
    return [...this.data.byBooking.values()].find((r) => paymentOf(r) === paymentId);
  }

  private tx(): PaymentTransaction {
    const loaded = new Set<string>(); // booking_ids this transaction loaded: save updates those, inserts the rest
    const seen = (r: PaymentRecord | undefined) => {
      if (r) loaded.add(bookingOf(r));
      return Promise.resolve(r);
    };
    return {
      loadByBooking: (bookingId) => seen(this.data.byBooking.get(bookingId)),
      loadByPayment: (paymentId) => seen(this.byPayment(paymentId)),
      save: (record) => {
        const bookingId = bookingOf(record);
        const paymentId = paymentOf(record);
        const owner = paymentId === undefined ? undefined : this.byPayment(paymentId);
        if (this.data.byBooking.has(bookingId) && !loaded.has(bookingId)) {
          return Promise.reject(new PaymentConflictError(`booking ${bookingId} already has a payment record`));
        }
        if (owner && bookingOf(owner) !== bookingId) {
          return Promise.reject(new PaymentConflictError(`payment ${paymentId} already belongs to booking ${bookingOf(owner)}`));
        }
        this.data.byBooking.set(bookingId, record);
        loaded.add(bookingId);
        return Promise.resolve();
      },
      appendToOutbox: (envelopes) => {
        this.data.outbox.push(...envelopes);
        return Promise.resolve();
      },
    };
  }
}
