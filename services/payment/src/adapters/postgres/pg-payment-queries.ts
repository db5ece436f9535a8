// PaymentQueries on Postgres: reads the payment_views projection only (written by
// PgPaymentRepository's save in the command's transaction).
import type { SqlExecutor } from '@albergue/outbox';
import type { PaymentQueries, PaymentView } from '../../application/ports.js';

interface ViewRow {
  [column: string]: unknown;
  payment_id: string;
  booking_id: string;
  status: PaymentView['status'];
  amount_minor: number | string; // int8: a string from pg, a number from PGlite
  currency: string;
  provider: string;
  initiated_at: Date;
  provider_reference: string | null;
  confirmed_at: Date | null;
  reason_code: string | null;
  reason: string | null;
  failed_at: Date | null;
  voided_at: Date | null;
  refund_reference: string | null;
  refunded_at: Date | null;
}

const SELECT = `SELECT payment_id, booking_id, status, amount_minor, currency, provider, initiated_at, provider_reference,
  confirmed_at, reason_code, reason, failed_at, voided_at, refund_reference, refunded_at FROM payment_views`;

/** Timestamps come back in `Date.toISOString()` form (UTC, milliseconds), as the domain writes them. */
function toView(r: ViewRow): PaymentView {
  const optional = {
    provider_reference: r.provider_reference,
    confirmed_at: r.confirmed_at?.toISOString(),
    reason_code: r.reason_code,
    reason: r.reason,
    failed_at: r.failed_at?.toISOString(),
    voided_at: r.voided_at?.toISOString(),
    refund_reference: r.refund_reference,
    refunded_at: r.refunded_at?.toISOString(),
  };
  const present = Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== null && v !== undefined)) as Partial<PaymentView>;
  return {
    payment_id: r.payment_id,
    booking_id: r.booking_id,
    status: r.status,
    amount: { amount_minor: Number(r.amount_minor), currency: r.currency },
    provider: r.provider,
    initiated_at: r.initiated_at.toISOString(),
    ...present,
  };
}

export class PgPaymentQueries implements PaymentQueries {
  /** `db`: the service's SqlDatabase (any SqlExecutor works). */
  constructor(private readonly db: SqlExecutor) {}

  async findPayment(paymentId: string): Promise<PaymentView | undefined> {
    const { rows } = await this.db.query<ViewRow>(`${SELECT} WHERE payment_id = $1`, [paymentId]);
    return rows[0] && toView(rows[0]);
  }

  async findPaymentOfBooking(bookingId: string): Promise<PaymentView | undefined> {
    const { rows } = await this.db.query<ViewRow>(`${SELECT} WHERE booking_id = $1`, [bookingId]);
    return rows[0] && toView(rows[0]);
  }
}
