// The ports payment's application layer needs. The Postgres adapter implements PaymentRepository and
// PaymentTransaction on one SqlExecutor (shared with the outbox append and the inbox insert); the
// provider port is where a real payment provider plugs in (adapters/provider has a simulated one).
import type { EventEnvelope } from '@albergue/events';
import type { Money, PaymentState, RefundCause } from '../domain/payment.js';

export type { Clock, IdGenerator } from '@albergue/application';

/** A stored payment (or the memory that its booking ended before any payment), keyed by booking_id. */
export interface PaymentRecord {
  readonly state: Exclude<PaymentState, { status: 'none' }>;
  /** The booking flow's correlation_id (from BookingReserved / the first booking event seen). */
  readonly correlation_id: string;
  /** event_id of the payment's latest published event (the cause of the next one). */
  readonly last_event_id: string;
}

/** `save` lost an insert race: the booking or payment already has a stored record. Retry the unit of work. */
export class PaymentConflictError extends Error {
  readonly code = 'payment_conflict';
  constructor(message: string) {
    super(message);
    this.name = 'PaymentConflictError';
  }
}

export interface PaymentRepository {
  /**
   * Runs `work` in one transaction: commits when it resolves, rolls back when it throws. When `work`
   * fails with PaymentConflictError the adapter may run it again in a new transaction (a bounded
   * number of times), so keep side effects other than `tx` out of `work`.
   */
  transaction<T>(work: (tx: PaymentTransaction) => Promise<T>): Promise<T>;
  /**
   * Claims up to `limit` open charge attempts (pending or accepted) whose check is due at `now`:
   * each claimed one gets `next_check_at = leaseUntil`, so another instance's sweep skips it
   * meanwhile (rows being claimed by another instance are skipped, not waited for).
   */
  claimAttemptsToCheck(now: Date, leaseUntil: Date, limit: number): Promise<ChargeAttempt[]>;
  /** Claims up to `limit` pending refunds due at `now` the same way (`next_attempt_at = leaseUntil`). */
  claimRefundsDue(now: Date, leaseUntil: Date, limit: number): Promise<Refund[]>;
  /** Refunds with this status, oldest request first (the operator's list). */
  listRefunds(status: RefundStatus, limit: number): Promise<Refund[]>;
}

// ── Charge attempts and refunds ───────────────────────────────────────────────────────────────

/**
 * One try at charging a payment, recorded (and committed) before the provider is called; its id is
 * the provider's idempotency key. Open while `pending` (provider not answered yet, or the process
 * died meanwhile) or `accepted` (provider took it; outcome not known yet): at most one open attempt
 * per payment. Closed as `rejected` (provider refused the request, nothing charged), `succeeded`,
 * `failed`, or `abandoned` (the provider never received it).
 */
export interface ChargeAttempt {
  readonly attempt_id: string;
  readonly payment_id: string;
  readonly status: ChargeAttemptStatus;
  readonly provider_reference?: string;
  readonly reason_code?: string;
  readonly checks: number;
  readonly next_check_at: string;
  readonly created_at: string;
}
export type ChargeAttemptStatus = 'pending' | 'accepted' | 'rejected' | 'succeeded' | 'failed' | 'abandoned';
export const OPEN_ATTEMPT_STATUSES: readonly ChargeAttemptStatus[] = ['pending', 'accepted'];

/** A charge to give back: one per provider reference (a charge is refunded once). */
export interface Refund {
  readonly refund_id: string;
  readonly payment_id: string;
  readonly booking_id: string;
  readonly provider_reference: string;
  readonly amount: Money;
  readonly reason: RefundCause;
  readonly status: RefundStatus;
  /** Provider calls that failed so far. */
  readonly attempts: number;
  readonly next_attempt_at?: string | undefined;
  readonly last_error?: string | undefined;
  readonly refund_reference?: string | undefined;
  readonly requested_at: string;
  readonly refunded_at?: string | undefined;
}
/** `failed`: retries exhausted; waits for an operator (`POST /refunds/:id/retry`). */
export type RefundStatus = 'pending' | 'succeeded' | 'failed';

export interface PaymentTransaction {
  /** The payment record of a booking, locked until commit (`SELECT … FOR UPDATE`). */
  loadByBooking(bookingId: string): Promise<PaymentRecord | undefined>;
  /** The payment record with this payment_id, locked until commit. */
  loadByPayment(paymentId: string): Promise<PaymentRecord | undefined>;
  /**
   * Inserts or updates the record (one per booking_id; payment_id unique) and its query projection.
   * A record this transaction loaded is updated; any other is inserted, and the insert never
   * overwrites: when the booking (or the payment_id) already has a record — another transaction
   * stored one since this one looked — it rejects with PaymentConflictError and the caller rolls
   * back (an event handler's message is then retried and sees the winner's record).
   */
  save(record: PaymentRecord): Promise<void>;
  /** Inserts the envelopes into outbox_events in this transaction, in order. */
  appendToOutbox(envelopes: readonly EventEnvelope[]): Promise<void>;

  /** The open attempt (pending or accepted) of a payment, locked until commit. */
  openAttempt(paymentId: string): Promise<ChargeAttempt | undefined>;
  /** The attempt with this id, locked until commit. */
  loadAttempt(attemptId: string): Promise<ChargeAttempt | undefined>;
  /** Inserts a new attempt; PaymentConflictError when the payment already has an open one. */
  insertAttempt(attempt: ChargeAttempt): Promise<void>;
  /** Replaces the attempt's mutable fields (status, provider_reference, reason_code, checks, next_check_at). */
  updateAttempt(attempt: ChargeAttempt): Promise<void>;
  /**
   * Closes the open attempts that carry this settlement (by idempotency key when the provider
   * echoes it, else by payment and provider reference, else the payment's only open attempt).
   */
  settleAttempts(settlement: {
    readonly payment_id: string;
    readonly provider_reference: string;
    readonly idempotency_key?: string | undefined;
    readonly status: 'succeeded' | 'failed';
    readonly reason_code?: string | undefined;
  }): Promise<void>;
  /** Records a refund to make; a second request for the same provider reference changes nothing. Returns whether it was new. */
  requestRefund(refund: Refund): Promise<boolean>;
  /** The refund with this id, locked until commit. */
  loadRefund(refundId: string): Promise<Refund | undefined>;
  /** Replaces the refund's mutable fields (status, attempts, next_attempt_at, last_error, refund_reference, refunded_at, amount). */
  updateRefund(refund: Refund): Promise<void>;
}

export interface PaymentView {
  readonly payment_id: string;
  readonly booking_id: string;
  readonly status: Exclude<PaymentState['status'], 'none' | 'booking_ended'>;
  readonly amount: Money;
  readonly provider: string;
  readonly initiated_at: string;
  readonly provider_reference?: string;
  readonly confirmed_at?: string;
  readonly reason_code?: string;
  readonly reason?: string;
  readonly failed_at?: string;
  readonly voided_at?: string;
  readonly refund_reference?: string;
  readonly refunded_at?: string;
}

export interface PaymentQueries {
  findPayment(paymentId: string): Promise<PaymentView | undefined>;
  findPaymentOfBooking(bookingId: string): Promise<PaymentView | undefined>;
}

// ── The payment provider port ─────────────────────────────────────────────────────────────────

export interface ChargeRequest {
  /** The charge attempt's id: the provider charges at most once per key and answers a lookup by it. */
  readonly idempotency_key: string;
  readonly payment_id: string;
  readonly booking_id: string;
  readonly amount: Money;
  /**
   * What the guest pays with, as the provider understands it: a test card number for the simulated
   * card network, a token from the provider's client-side SDK for a real one (never a raw card
   * number outside a simulator).
   */
  readonly payment_method: string;
}

export type ChargeAnswer =
  /** The provider took the charge; its outcome arrives later through the settlement callback. */
  | { readonly status: 'accepted'; readonly provider_reference: string }
  /** The request itself was refused (e.g. malformed card number): nothing was charged, the guest may try again. */
  | { readonly status: 'rejected'; readonly reason_code: string; readonly reason: string };

export type SettlementOutcome =
  { readonly status: 'succeeded' } | { readonly status: 'failed'; readonly reason_code: string; readonly reason: string };

/** The provider's settlement callback (webhook body, once authenticated by the HTTP adapter). */
export interface ProviderSettlement {
  readonly payment_id: string;
  readonly provider_reference: string;
  /** The charge's idempotency key (our attempt id), when the provider echoes it. */
  readonly idempotency_key?: string | undefined;
  readonly outcome: SettlementOutcome;
}

/** What the provider knows of a charge, looked up by its idempotency key. */
export type ProviderCharge =
  | { readonly status: 'processing'; readonly payment_id: string; readonly provider_reference: string }
  | { readonly status: 'settled'; readonly payment_id: string; readonly provider_reference: string; readonly outcome: SettlementOutcome };

/**
 * A payment provider (card network, PSP). Contract:
 * - `charge` charges (authorises and captures) `amount`. Idempotent by `idempotency_key`: the same
 *   key again returns the first answer and never charges twice (across every instance: the
 *   provider, not the caller, keeps the keys). It does not wait for the outcome: the provider
 *   reports it at least once through the settlement callback, possibly late, possibly never (the
 *   caller then asks `lookup`).
 * - `lookup` answers what became of the charge made with a key (undefined: never received).
 * - `cancel` voids the charges of a payment that have not settled, so they will not succeed, and
 *   refuses later charges of it; idempotent. A charge already settled stays settled (the caller
 *   refunds it).
 * - `refund` returns the full amount of a settled charge. Idempotent by provider_reference (a
 *   repeat returns the same refund_reference).
 * Every method throws for a failure (network, provider down, refund refused): the caller retries.
 */
export interface PaymentProvider {
  /** Goes into PaymentInitiated.provider. */
  readonly name: string;
  charge(request: ChargeRequest): Promise<ChargeAnswer>;
  lookup(idempotencyKey: string): Promise<ProviderCharge | undefined>;
  cancel(request: { readonly payment_id: string }): Promise<void>;
  /** `amount` in the answer: what the provider actually gave back (the charge's amount), when it says. */
  refund(request: {
    readonly payment_id: string;
    readonly provider_reference: string;
    readonly amount: Money;
  }): Promise<{ readonly refund_reference: string; readonly amount?: Money }>;
}
