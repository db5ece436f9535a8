// The ports payment's application layer needs. The Postgres adapter implements PaymentRepository and
// PaymentTransaction on one SqlExecutor (shared with the outbox append and the inbox insert); the
// provider port is where a real payment provider plugs in (adapters/provider has a simulated one).
import type { EventEnvelope } from '@albergue/events';
import type { Money, PaymentState } from '../domain/payment';

export interface Clock {
  now(): Date;
}

/** New payment ids (unique, at most 128 characters; a UUIDv7 in production). */
export type IdGenerator = () => string;

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
  /** payment_ids in status refund_pending, oldest request first, at most `limit`. */
  pendingRefunds(limit: number): Promise<string[]>;
}

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

/** The provider's settlement callback (webhook body, once authenticated by the HTTP adapter). */
export interface ProviderSettlement {
  readonly payment_id: string;
  readonly provider_reference: string;
  readonly outcome: { readonly status: 'succeeded' } | { readonly status: 'failed'; readonly reason_code: string; readonly reason: string };
}

/**
 * A payment provider (card network, PSP). Contract:
 * - `charge` charges (authorises and captures) `amount` for one payment. Idempotent by payment_id:
 *   charging the same payment again returns the first answer and never charges twice. It does not
 *   wait for the outcome: the provider reports it exactly once or more (at-least-once) through the
 *   settlement callback, possibly after a delay, possibly after `cancel` was called.
 * - `cancel` voids a charge that has not settled, so it will not succeed; idempotent, and a no-op
 *   for a payment never charged. A charge already in flight may still settle as succeeded (the
 *   caller then refunds it).
 * - `refund` returns the full amount of a settled payment. Idempotent by payment_id (one refund per
 *   payment; a repeat returns the same refund_reference).
 * Every method throws only for a transient failure (network, provider down): the caller retries.
 */
export interface PaymentProvider {
  /** Goes into PaymentInitiated.provider. */
  readonly name: string;
  charge(request: ChargeRequest): Promise<ChargeAnswer>;
  cancel(request: { readonly payment_id: string }): Promise<void>;
  refund(request: { readonly payment_id: string; readonly provider_reference: string; readonly amount: Money }): Promise<{ readonly refund_reference: string }>;
}
