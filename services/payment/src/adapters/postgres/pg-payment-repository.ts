// PaymentRepository / PaymentTransaction on Postgres (pg or PGlite, through @albergue/outbox's
// SqlDatabase port). Tables: PAYMENT_MIGRATIONS. The record, its query projection and its outbox rows
// are written in one transaction.
import type { EventEnvelope } from '@albergue/events';
import type { SqlDatabase, SqlExecutor, SqlTransaction } from '@albergue/outbox';
import { Outbox } from '@albergue/outbox';
import type {
  ChargeAttempt,
  PaymentRecord,
  PaymentRepository,
  PaymentTransaction,
  PaymentView,
  Refund,
  RefundStatus,
} from '../../application/ports.js';
import { PaymentConflictError } from '../../application/ports.js';
import { paymentView } from '../../application/support.js';

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

  constructor(
    private readonly db: SqlDatabase,
    private readonly outbox: Outbox = new Outbox(db),
    /** Called with the booking_id after a transaction that wrote a payment's projection commits (wakes long-polls). */
    private readonly onViewCommitted?: (bookingId: string) => void,
  ) {}

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
    return new PgPaymentTransaction(tx, loaded, this.outbox, this.onViewCommitted);
  }

  async claimAttemptsToCheck(now: Date, leaseUntil: Date, limit: number): Promise<ChargeAttempt[]> {
    // SKIP LOCKED: another instance claiming the same rows right now is not waited for.
    const { rows } = await this.db.query<AttemptRow>(
      `WITH claimed AS (
         UPDATE charge_attempts SET next_check_at = $2, updated_at = now()
         WHERE attempt_id IN (
           SELECT attempt_id FROM charge_attempts
           WHERE status IN ('pending', 'accepted') AND next_check_at <= $1
           ORDER BY next_check_at LIMIT $3 FOR UPDATE SKIP LOCKED)
         RETURNING ${ATTEMPT_COLUMNS})
       SELECT * FROM claimed ORDER BY created_at, attempt_id`,
      [now.toISOString(), leaseUntil.toISOString(), boundedLimit(limit)],
    );
    return rows.map(toAttempt);
  }

  async claimRefundsDue(now: Date, leaseUntil: Date, limit: number): Promise<Refund[]> {
    const { rows } = await this.db.query<RefundRow>(
      `WITH claimed AS (
         UPDATE refunds SET next_attempt_at = $2, updated_at = now()
         WHERE refund_id IN (
           SELECT refund_id FROM refunds
           WHERE status = 'pending' AND next_attempt_at <= $1
           ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
         RETURNING ${REFUND_COLUMNS})
       SELECT * FROM claimed ORDER BY requested_at, refund_id`,
      [now.toISOString(), leaseUntil.toISOString(), boundedLimit(limit)],
    );
    return rows.map(toRefund);
  }

  async listRefunds(status: RefundStatus, limit: number): Promise<Refund[]> {
    const { rows } = await this.db.query<RefundRow>(
      `SELECT ${REFUND_COLUMNS} FROM refunds WHERE status = $1 ORDER BY requested_at, refund_id LIMIT $2`,
      [status, boundedLimit(limit)],
    );
    return rows.map(toRefund);
  }
}

const boundedLimit = (limit: number) => (Number.isFinite(limit) ? Math.min(10_000, Math.max(0, Math.floor(limit))) : 0);

// ── charge_attempts and refunds rows ──────────────────────────────────────────────────────────
const ATTEMPT_COLUMNS = 'attempt_id, payment_id, status, provider_reference, reason_code, checks, next_check_at, created_at';
interface AttemptRow {
  [column: string]: unknown;
  attempt_id: string;
  payment_id: string;
  status: ChargeAttempt['status'];
  provider_reference: string | null;
  reason_code: string | null;
  checks: number;
  next_check_at: Date;
  created_at: Date;
}
function toAttempt(r: AttemptRow): ChargeAttempt {
  return {
    attempt_id: r.attempt_id,
    payment_id: r.payment_id,
    status: r.status,
    ...(r.provider_reference !== null ? { provider_reference: r.provider_reference } : {}),
    ...(r.reason_code !== null ? { reason_code: r.reason_code } : {}),
    checks: r.checks,
    next_check_at: r.next_check_at.toISOString(),
    created_at: r.created_at.toISOString(),
  };
}

const REFUND_COLUMNS = `refund_id, payment_id, booking_id, provider_reference, amount_minor, currency, reason, status, attempts,
  next_attempt_at, last_error, refund_reference, requested_at, refunded_at`;
interface RefundRow {
  [column: string]: unknown;
  refund_id: string;
  payment_id: string;
  booking_id: string;
  provider_reference: string;
  amount_minor: number | string; // int8: a string from pg, a number from PGlite
  currency: string;
  reason: Refund['reason'];
  status: RefundStatus;
  attempts: number;
  next_attempt_at: Date | null;
  last_error: string | null;
  refund_reference: string | null;
  requested_at: Date;
  refunded_at: Date | null;
}
function toRefund(r: RefundRow): Refund {
  return {
    refund_id: r.refund_id,
    payment_id: r.payment_id,
    booking_id: r.booking_id,
    provider_reference: r.provider_reference,
    amount: { amount_minor: Number(r.amount_minor), currency: r.currency },
    reason: r.reason,
    status: r.status,
    attempts: r.attempts,
    ...(r.next_attempt_at ? { next_attempt_at: r.next_attempt_at.toISOString() } : {}),
    ...(r.last_error !== null ? { last_error: r.last_error } : {}),
    ...(r.refund_reference !== null ? { refund_reference: r.refund_reference } : {}),
    requested_at: r.requested_at.toISOString(),
    ...(r.refunded_at ? { refunded_at: r.refunded_at.toISOString() } : {}),
  };
}

class PgPaymentTransaction implements PaymentTransaction {
  constructor(
    private readonly tx: SqlTransaction,
    private readonly loaded: Set<string>,
    private readonly outbox: Outbox,
    private readonly onViewCommitted: ((bookingId: string) => void) | undefined,
  ) {}

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
      if (isUniqueViolation(err))
        throw new PaymentConflictError(`payment ${paymentOf(record) ?? 'none'} already belongs to another booking`);
      throw err;
    }
    const view = paymentView(s);
    if (!view) return;
    await saveView(this.tx, view);
    const committed = this.onViewCommitted;
    if (committed) this.tx.afterCommit(() => committed(view.booking_id));
  }

  async appendToOutbox(envelopes: readonly EventEnvelope[]): Promise<void> {
    await this.outbox.append(this.tx, envelopes);
  }

  async openAttempt(paymentId: string): Promise<ChargeAttempt | undefined> {
    const { rows } = await this.tx.query<AttemptRow>(
      `SELECT ${ATTEMPT_COLUMNS} FROM charge_attempts WHERE payment_id = $1 AND status IN ('pending', 'accepted') FOR UPDATE`,
      [paymentId],
    );
    return rows[0] && toAttempt(rows[0]);
  }

  async loadAttempt(attemptId: string): Promise<ChargeAttempt | undefined> {
    const { rows } = await this.tx.query<AttemptRow>(`SELECT ${ATTEMPT_COLUMNS} FROM charge_attempts WHERE attempt_id = $1 FOR UPDATE`, [
      attemptId,
    ]);
    return rows[0] && toAttempt(rows[0]);
  }

  async insertAttempt(a: ChargeAttempt): Promise<void> {
    try {
      await this.tx.query(
        `INSERT INTO charge_attempts (attempt_id, payment_id, status, provider_reference, reason_code, checks, next_check_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7::timestamptz, $8::timestamptz)`,
        [
          a.attempt_id,
          a.payment_id,
          a.status,
          a.provider_reference ?? null,
          a.reason_code ?? null,
          a.checks,
          a.next_check_at,
          a.created_at,
        ],
      );
    } catch (err) {
      if (isUniqueViolation(err)) throw new PaymentConflictError(`payment ${a.payment_id} already has an open charge attempt`);
      throw err;
    }
  }

  async updateAttempt(a: ChargeAttempt): Promise<void> {
    await this.tx.query(
      `UPDATE charge_attempts SET status = $2, provider_reference = $3, reason_code = $4, checks = $5, next_check_at = $6::timestamptz, updated_at = now()
       WHERE attempt_id = $1`,
      [a.attempt_id, a.status, a.provider_reference ?? null, a.reason_code ?? null, a.checks, a.next_check_at],
    );
  }

  async settleAttempts(s: Parameters<PaymentTransaction['settleAttempts']>[0]): Promise<void> {
    // The attempt this settlement belongs to: by idempotency key; else by provider reference; else
    // the payment's open attempt that has no reference yet (the callback beat the charge's answer).
    await this.tx.query(
      `UPDATE charge_attempts SET status = $4, provider_reference = COALESCE(provider_reference, $2), reason_code = $5, updated_at = now()
       WHERE payment_id = $1 AND status IN ('pending', 'accepted')
         AND (attempt_id = $3 OR provider_reference = $2 OR ($3::text IS NULL AND provider_reference IS NULL))`,
      [s.payment_id, s.provider_reference, s.idempotency_key ?? null, s.status, s.reason_code ?? null],
    );
  }

  async requestRefund(r: Refund): Promise<boolean> {
    const { rows } = await this.tx.query(
      `INSERT INTO refunds (refund_id, payment_id, booking_id, provider_reference, amount_minor, currency, reason, status, attempts, next_attempt_at, requested_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::timestamptz, $11::timestamptz)
       ON CONFLICT (provider_reference) DO NOTHING RETURNING 1 AS inserted`,
      [
        r.refund_id,
        r.payment_id,
        r.booking_id,
        r.provider_reference,
        r.amount.amount_minor,
        r.amount.currency,
        r.reason,
        r.status,
        r.attempts,
        r.next_attempt_at ?? null,
        r.requested_at,
      ],
    );
    return rows.length === 1;
  }

  async loadRefund(refundId: string): Promise<Refund | undefined> {
    const { rows } = await this.tx.query<RefundRow>(`SELECT ${REFUND_COLUMNS} FROM refunds WHERE refund_id = $1 FOR UPDATE`, [refundId]);
    return rows[0] && toRefund(rows[0]);
  }

  async updateRefund(r: Refund): Promise<void> {
    await this.tx.query(
      `UPDATE refunds SET status = $2, attempts = $3, next_attempt_at = $4::timestamptz, last_error = $5, refund_reference = $6,
         refunded_at = $7::timestamptz, amount_minor = $8, currency = $9, updated_at = now()
       WHERE refund_id = $1`,
      [
        r.refund_id,
        r.status,
        r.attempts,
        r.next_attempt_at ?? null,
        r.last_error ?? null,
        r.refund_reference ?? null,
        r.refunded_at ?? null,
        r.amount.amount_minor,
        r.amount.currency,
      ],
    );
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
      v.payment_id,
      v.booking_id,
      v.status,
      v.amount.amount_minor,
      v.amount.currency,
      v.provider,
      v.initiated_at,
      v.provider_reference ?? null,
      v.confirmed_at ?? null,
      v.reason_code ?? null,
      v.reason ?? null,
      v.failed_at ?? null,
      v.voided_at ?? null,
      v.refund_reference ?? null,
      v.refunded_at ?? null,
    ],
  );
}
