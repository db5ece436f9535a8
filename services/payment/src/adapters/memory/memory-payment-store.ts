// In-memory PaymentRepository + PaymentQueries: transactions run one at a time and roll back on a
// throw. For tests and for running payment without a database; the Postgres adapter is the real one.
import type { EventEnvelope } from '@albergue/events';
import type {
  ChargeAttempt,
  PaymentQueries,
  PaymentRecord,
  PaymentRepository,
  PaymentTransaction,
  PaymentView,
  Refund,
  RefundStatus,
} from '../../application/ports.js';
import { PaymentConflictError } from '../../application/ports.js';
import { paymentView } from '../../application/support.js';

interface Data {
  byBooking: Map<string, PaymentRecord>;
  outbox: EventEnvelope[];
  attempts: Map<string, ChargeAttempt>;
  refunds: Map<string, Refund>;
}

const isOpen = (a: ChargeAttempt) => a.status === 'pending' || a.status === 'accepted';

const bookingOf = (r: PaymentRecord) => (r.state.status === 'booking_ended' ? r.state.booking_id : r.state.payment.booking_id);
const paymentOf = (r: PaymentRecord) => (r.state.status === 'booking_ended' ? undefined : r.state.payment.payment_id);

export class MemoryPaymentStore implements PaymentRepository, PaymentQueries {
  private data: Data = { byBooking: new Map(), outbox: [], attempts: new Map(), refunds: new Map() };
  private queue: Promise<unknown> = Promise.resolve();

  /** Every envelope appended to the outbox, in commit order. */
  get outbox(): readonly EventEnvelope[] {
    return this.data.outbox;
  }

  transaction<T>(work: (tx: PaymentTransaction) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      const snapshot: Data = {
        byBooking: new Map(this.data.byBooking),
        outbox: [...this.data.outbox],
        attempts: new Map(this.data.attempts),
        refunds: new Map(this.data.refunds),
      };
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

  claimAttemptsToCheck(now: Date, leaseUntil: Date, limit: number): Promise<ChargeAttempt[]> {
    const due = [...this.data.attempts.values()].filter((a) => isOpen(a) && Date.parse(a.next_check_at) <= now.getTime()).slice(0, limit);
    for (const a of due) this.data.attempts.set(a.attempt_id, { ...a, next_check_at: leaseUntil.toISOString() });
    return Promise.resolve(due.map((a) => ({ ...a, next_check_at: leaseUntil.toISOString() })));
  }

  claimRefundsDue(now: Date, leaseUntil: Date, limit: number): Promise<Refund[]> {
    const due = [...this.data.refunds.values()]
      .filter((r) => r.status === 'pending' && r.next_attempt_at !== undefined && Date.parse(r.next_attempt_at) <= now.getTime())
      .sort((a, b) => a.requested_at.localeCompare(b.requested_at))
      .slice(0, limit)
      .map((r) => ({ ...r, next_attempt_at: leaseUntil.toISOString() }));
    for (const r of due) this.data.refunds.set(r.refund_id, r);
    return Promise.resolve(due);
  }

  listRefunds(status: RefundStatus, limit: number): Promise<Refund[]> {
    return Promise.resolve(
      [...this.data.refunds.values()]
        .filter((r) => r.status === status)
        .sort((a, b) => a.requested_at.localeCompare(b.requested_at))
        .slice(0, limit),
    );
  }

  /** Every charge attempt (tests). */
  get attempts(): readonly ChargeAttempt[] {
    return [...this.data.attempts.values()];
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
      openAttempt: (paymentId) => Promise.resolve([...this.data.attempts.values()].find((a) => a.payment_id === paymentId && isOpen(a))),
      loadAttempt: (attemptId) => Promise.resolve(this.data.attempts.get(attemptId)),
      insertAttempt: (attempt) => {
        if ([...this.data.attempts.values()].some((a) => a.payment_id === attempt.payment_id && isOpen(a)) && isOpen(attempt)) {
          return Promise.reject(new PaymentConflictError(`payment ${attempt.payment_id} already has an open charge attempt`));
        }
        this.data.attempts.set(attempt.attempt_id, attempt);
        return Promise.resolve();
      },
      updateAttempt: (attempt) => {
        this.data.attempts.set(attempt.attempt_id, attempt);
        return Promise.resolve();
      },
      settleAttempts: (st) => {
        for (const a of this.data.attempts.values()) {
          if (a.payment_id !== st.payment_id || !isOpen(a)) continue;
          const match =
            a.attempt_id === st.idempotency_key ||
            a.provider_reference === st.provider_reference ||
            (st.idempotency_key === undefined && a.provider_reference === undefined);
          if (!match) continue;
          this.data.attempts.set(a.attempt_id, {
            ...a,
            status: st.status,
            provider_reference: a.provider_reference ?? st.provider_reference,
            ...(st.reason_code !== undefined ? { reason_code: st.reason_code } : {}),
          });
        }
        return Promise.resolve();
      },
      requestRefund: (refund) => {
        if ([...this.data.refunds.values()].some((r) => r.provider_reference === refund.provider_reference)) return Promise.resolve(false);
        this.data.refunds.set(refund.refund_id, refund);
        return Promise.resolve(true);
      },
      loadRefund: (refundId) => Promise.resolve(this.data.refunds.get(refundId)),
      updateRefund: (refund) => {
        this.data.refunds.set(refund.refund_id, refund);
        return Promise.resolve();
      },
    };
  }
}
