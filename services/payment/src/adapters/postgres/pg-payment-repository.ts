// PaymentRepository / PaymentTransaction on Postgres (pg or PGlite, through @albergue/outbox's
// SqlDatabase port). Tables: PAYMENT_MIGRATIONS. The record, its query projection and its outbox rows
// are written in one transaction.
import type { EventEnvelope } from '@albergue/events';
import type { SqlDatabase, SqlExecutor, SqlTransaction } from '@albergue/outbox';
import { Outbox } from '@albergue/outbox';
import type { PaymentRecord, PaymentRepository, PaymentTransaction, PaymentView } from '../../application/ports';
import { PaymentConflictError } from '../../application/ports';
import { paymentView } from '../../application/support';

/** Attempts of one unit of work that keeps losing insert races (each loser sees the winner next time). */
const MAX_ATTEMPTS = 3;

interface PaymentRow {
  [column: string]: unknown;
  state: PaymentRecord['state'];
  correlation_id: string;
  last_event_id: string;
}

const COLUMNS = 'state, correlation_id, last_event_id';

function toRecord(row: PaymentRow | undefined): PaymentRecord | undefined {
  return row && { state: row.state, correlation_id: row.correlation_id, last_event_id: row.last_event_id };
}

const bookingOf = (r: PaymentRecord) => (r.state.status === 'booking_ended' ? r.state.booking_id : r.state.payment.booking_id);
const paymentOf = (r: PaymentRecord) => (r.state.status === 'booking_ended' ? null : r.state.payment.payment_id);

function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '23505';
}

/**
 * The payment store on Postgres.
 *
 *   const repo = new PgPaymentRepository(db, outbox);      // outbox: the runtime's Outbox (optional)
 *   await settlePayment({ repo, … }, settlement);           // repo.transaction(...) opens its own
 *   await runInbox(db, key, (tx) => initiatePaymentOnBookingReserved(deps, repo.forTransaction(tx), envelope));
 *
 * `loadBy…` lock the row (`FOR UPDATE`) until commit. `save` updates a record the transaction loaded
 * (or saved) and inserts any other; an insert that finds a row already there (a concurrent
 * transaction stored it first) rejects with PaymentConflictError instead of overwriting.
 * `transaction(work)` runs `work` again, up to 3 attempts in all, when it fails with that error.
 */
export class PgPaymentRepository implements PaymentRepository {
  /** booking_ids each open transaction loaded or saved (kept per SqlTransaction). */
  private readonly loaded = new WeakMap<SqlTransaction, Set<string>>();

  constructor(private readonly db: SqlDatabase, private readonly outbox: Outbox = new Outbox(db)) {}

  async transaction<T>(work: (tx: PaymentTransaction) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.db.transaction((tx) => work(this.forTransaction(tx)));
      } catch (err) {
        if (!(err instanceof PaymentConflictError) || attempt >= MAX_ATTEMPTS) throw err;
      }
    }
  }

  /** The transaction port on a transaction that is already open (the inbox's): commit and rollback stay the caller's. */
  forTransaction(tx: SqlTransaction): PaymentTransaction {
    let loaded = this.loaded.get(tx);
    if (!loaded) this.loaded.set(tx, (loaded = new Set()));
    return new PgPaymentTransaction(tx, loaded, this.outbox);
  }

  async pendingRefunds(limit: number): Promise<string[]> {
    const { rows } = await this.db.query<{ payment_id: string }>(
      `SELECT payment_id FROM payments WHERE status = 'refund_pending'
       ORDER BY refund_requested_at, payment_id LIMIT $1`,
      [Number.isFinite(limit) ? Math.max(0, Math.floor(limit)) : 0],
    );
    return rows.map((r) => r.payment_id);
  }
}

class PgPaymentTransaction implements PaymentTransaction {
  constructor(private readonly tx: SqlTransaction, private readonly loaded: Set<string>, private readonly outbox: Outbox) {}

  async loadByBooking(bookingId: string): Promise<PaymentRecord | undefined> {
    const { rows } = await this.tx.query<PaymentRow>(`SELECT ${COLUMNS} FROM payments WHERE booking_id = $1 FOR UPDATE`, [bookingId]);
    return this.seen(toRecord(rows[0]));
  }

  async loadByPayment(paymentId: string): Promise<PaymentRecord | undefined> {
    const { rows } = await this.tx.query<PaymentRow>(`SELECT ${COLUMNS} FROM payments WHERE payment_id = $1 FOR UPDATE`, [paymentId]);
    return this.seen(toRecord(rows[0]));
  }

  async save(record: PaymentRecord): Promise<void> {
    const bookingId = bookingOf(record);
    const s = record.state;
    const params = [
      bookingId,
      paymentOf(record),
      s.status,
      JSON.stringify(s),
      record.correlation_id,
      record.last_event_id,
      s.status === 'refund_pending' ? s.requested_at : null,
    ];
    try {
      if (this.loaded.has(bookingId)) {
        const updated = await this.tx.query(
          `UPDATE payments SET payment_id = $2, status = $3, state = $4::jsonb, correlation_id = $5, last_event_id = $6,
             refund_requested_at = $7::timestamptz, updated_at = now()
           WHERE booking_id = $1`,
          params,
        );
        if (updated.rowCount !== 1) throw new PaymentConflictError(`the payment record of booking ${bookingId} disappeared`);
      } else {
        // DO NOTHING (no conflict target): a row with this booking_id or payment_id, committed or
        // being inserted by a concurrent transaction (we wait for it), makes this insert a no-op.
        const inserted = await this.tx.query(
          `INSERT INTO payments (booking_id, payment_id, status, state, correlation_id, last_event_id, refund_requested_at)
           VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7::timestamptz)
           ON CONFLICT DO NOTHING RETURNING 1 AS inserted`,
          params,
        );
        if (inserted.rows.length !== 1) {
          throw new PaymentConflictError(`booking ${bookingId} (payment ${paymentOf(record) ?? 'none'}) already has a payment record`);
        }
        this.loaded.add(bookingId);
      }
    } catch (err) {
      if (isUniqueViolation(err)) throw new PaymentConflictError(`payment ${paymentOf(record) ?? 'none'} already belongs to another booking`);
      throw err;
    }
    const view = paymentView(s);
    if (view) await saveView(this.tx, view);
  }

  async appendToOutbox(envelopes: readonly EventEnvelope[]): Promise<void> {
    await this.outbox.append(this.tx, envelopes);
  }

  private seen(record: PaymentRecord | undefined): PaymentRecord | undefined {
    if (record) this.loaded.add(bookingOf(record));
    return record;
  }
}

/** Upserts the query projection of one payment. */
async function saveView(tx: SqlExecutor, v: PaymentView): Promise<void> {
  await tx.query(
    `INSERT INTO payment_views (payment_id, booking_id, status, amount_minor, currency, provider, initiated_at, provider_reference,
       confirmed_at, reason_code, reason, failed_at, voided_at, refund_reference, refunded_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7::timestamptz, $8, $9::timestamptz, $10, $11, $12::timestamptz, $13::timestamptz, $14, $15::timestamptz)
     ON CONFLICT (payment_id) DO UPDATE SET
       booking_id = EXCLUDED.booking_id, status = EXCLUDED.status, amount_minor = EXCLUDED.amount_minor,
       currency = EXCLUDED.currency, provider = EXCLUDED.provider, initiated_at = EXCLUDED.initiated_at,
       provider_reference = EXCLUDED.provider_reference, confirmed_at = EXCLUDED.confirmed_at,
       reason_code = EXCLUDED.reason_code, reason = EXCLUDED.reason, failed_at = EXCLUDED.failed_at,
       voided_at = EXCLUDED.voided_at, refund_reference = EXCLUDED.refund_reference,
       refunded_at = EXCLUDED.refunded_at, updated_at = now()`,
    [
      v.payment_id, v.booking_id, v.status, v.amount.amount_minor, v.amount.currency, v.provider, v.initiated_at,
      v.provider_reference ?? null, v.confirmed_at ?? null, v.reason_code ?? null, v.reason ?? null, v.failed_at ?? null,
      v.voided_at ?? null, v.refund_reference ?? null, v.refunded_at ?? null,
    ],
  );
}
