/**
 * The delivery ledger: per-subscriber delivery state shared by every instance of a subscriber
 * (a named consumer group). MQTT only fans messages out; attempts, leases, retries, dedup, the
 * dead-letter queue and circuit breakers live here (ARCHITECTURE §3).
 *
 * Topics are logical (`albergue.booking.v1.BookingReserved`); times are epoch milliseconds.
 */

export interface BackoffPolicy {
  /** Delay before the 2nd attempt. */
  readonly initialMs: number;
  /** Upper bound of any delay (before jitter). */
  readonly maxMs: number;
  /** Growth per attempt (2 = doubling). */
  readonly multiplier: number;
  /** Random spread, 0..1: the delay is drawn from [d·(1−jitter), d]. */
  readonly jitter: number;
}

export interface BreakerPolicy {
  /** Failures within `windowMs` that open the breaker. */
  readonly failureThreshold: number;
  /** Rolling window in which failures are counted. */
  readonly windowMs: number;
  /** How long the breaker stays open before one probe is let through (half-open). */
  readonly openMs: number;
}

/** Delivery settings of one subscriber on one topic. */
export interface SubscriptionPolicy {
  /** Attempts per message, the first included; past it the message goes to the DLQ. */
  readonly maxAttempts: number;
  /** A lease not acked within this time expires; the message becomes available again and the lapsed lease counts as an attempt. */
  readonly visibilityTimeoutMs: number;
  readonly backoff: BackoffPolicy;
  readonly breaker: BreakerPolicy;
  /**
   * How long a processed event_id is remembered in `mqtt:processed:<subscriber>:<topic>`.
   * Must be at least the redelivery horizon: maxAttempts × backoff.maxMs + visibilityTimeoutMs
   * (`register` refuses a shorter one).
   */
  readonly dedupWindowMs: number;
}

export const DEFAULT_POLICY: SubscriptionPolicy = {
  maxAttempts: 5,
  visibilityTimeoutMs: 30_000,
  backoff: { initialMs: 200, maxMs: 30_000, multiplier: 2, jitter: 0.2 },
  breaker: { failureThreshold: 5, windowMs: 30_000, openMs: 15_000 },
  dedupWindowMs: 24 * 60 * 60 * 1000,
};

/** The longest time after its first receipt that a message can still be (re)delivered. */
export function redeliveryHorizonMs(p: SubscriptionPolicy): number {
  return p.maxAttempts * p.backoff.maxMs + p.visibilityTimeoutMs;
}

/** A message as received from the transport, already validated as an envelope. */
export interface IncomingMessage {
  readonly topic: string;
  readonly eventId: string;
  /** The envelope JSON exactly as received. */
  readonly body: string;
  /**
   * Optional: the same body as the UTF-8 bytes the transport received (an adapter that writes bytes
   * can store them without encoding `body` again). Must decode to `body`.
   */
  readonly bytes?: Uint8Array;
}

export type RecordOutcome =
  /** New: stored and ready to lease. */
  | 'recorded'
  /** Already pending in the ledger, or processed within the dedup window: nothing stored. */
  | 'duplicate';

export interface AttemptError {
  readonly attempt: number;
  /** ISO-8601 time of the failure. */
  readonly at: string;
  readonly message: string;
}

/** A leased message. Only the holder of a live lease may ack or nack it. */
export interface Delivery {
  readonly subscriber: string;
  readonly topic: string;
  readonly eventId: string;
  readonly body: string;
  /** Which attempt this lease is, 1-based (includes attempts whose lease lapsed). */
  readonly attempt: number;
  readonly maxAttempts: number;
  /** Opaque token proving the lease; a stale token is refused. */
  readonly leaseToken: string;
  readonly leaseExpiresAt: number;
  readonly firstReceivedAt: number;
  /** Errors of earlier attempts, oldest first. */
  readonly errors: readonly AttemptError[];
}

export type AckOutcome = 'acked' | 'stale';

/** How a handler failed: transient (retry with backoff, counts toward the breaker) or permanent. */
export interface NackOptions {
  /**
   * The message can never succeed (invalid for this consumer, a business rule refuses it): it goes to
   * the DLQ at once with `reason: permanent_error` and does not count toward the circuit breaker.
   */
  readonly permanent?: boolean;
  /** Reason code of a permanent failure (snake_case), kept in the DLQ entry as `code`. */
  readonly code?: string;
}
export type NackOutcome = 'retry-scheduled' | 'dead-lettered' | 'stale';

export interface DeliveryLedger {
  /**
   * Declares (or updates) the policy of `subscriber` on `topic`. Throws a clear error when
   * dedupWindowMs is shorter than the redelivery horizon. Shared by all instances.
   */
  register(subscriber: string, topic: string, policy: SubscriptionPolicy): Promise<void>;

  /**
   * Stores messages for `subscriber`, idempotent by event_id: the same event_id twice (pending or
   * processed within the dedup window) is one entry. Durable when the promise resolves — only then
   * may the transport acknowledge the messages to the broker. Outcomes are in input order.
   */
  record(subscriber: string, messages: readonly IncomingMessage[]): Promise<RecordOutcome[]>;

  /**
   * Leases up to `max` messages that are due (new, or past their backoff, or whose lease expired),
   * oldest first, across the subscriber's topics. Messages of a topic whose breaker is open are not
   * leased and their attempts do not grow; a half-open breaker lets exactly one probe through.
   * A message whose lease expired counts that lease as an attempt; if that exhausts maxAttempts it
   * goes to the DLQ with a "visibility timeout expired" error instead of being leased again.
   * A lapsed lease is not a breaker failure (an instance that crashed holding a batch must not open
   * the breaker), except a lapsed half-open probe, which re-opens it.
   */
  lease(subscriber: string, max: number): Promise<Delivery[]>;

  /** Success: removes the message, remembers its event_id for the dedup window, closes a half-open breaker. */
  ack(delivery: Delivery): Promise<AckOutcome>;

  /** `ack` for a batch (one round trip on Redis); outcomes in input order. */
  ackMany(deliveries: readonly Delivery[]): Promise<AckOutcome[]>;

  /**
   * Failure: records the error. A transient failure counts towards the breaker (per distinct message
   * in the rolling window); below maxAttempts the message is due again after exponential backoff
   * with jitter; at maxAttempts it moves to `mqtt:dlq:<topic>` with every error. A half-open probe
   * that fails transiently re-opens the breaker. A permanent failure (`options.permanent`) goes to the
   * DLQ at once and is no breaker failure (a permanently failed probe lets the next probe go).
   */
  nack(delivery: Delivery, error: string, options?: NackOptions): Promise<NackOutcome>;

  /** Whether event_id was processed by subscriber within the dedup window. */
  isProcessed(subscriber: string, topic: string, eventId: string): Promise<boolean>;

  /** Messages waiting (ready, scheduled or leased) for subscriber, per topic. */
  depth(subscriber: string): Promise<Record<string, number>>;

  /**
   * What the ledger knows of each (subscriber, topic, event_id), in input order (read-only; the
   * operator's "where is this event?"): pending or leased with its attempts, errors and next due
   * time, processed (and when), dead-lettered (the DLQ entry), or unknown. At most 1,000 per call.
   */
  deliveries(queries: readonly DeliveryQuery[]): Promise<DeliveryFact[]>;

  /** Optional: every dead letter this ledger writes (both adapters have it; see DeadLetterStore.onDeadLetter). */
  onDeadLetter?(listener: (notice: DeadLetterNotice) => void): () => void;

  close(): Promise<void>;
}

/** One event as one subscriber sees it. */
export interface DeliveryQuery {
  readonly subscriber: string;
  readonly topic: string;
  readonly eventId: string;
}

export type DeliveryState =
  /** Waiting in the ledger: new, or scheduled for a retry after backoff (`nextAttemptAt`). */
  | 'pending'
  /** A worker holds it now (`leaseExpiresAt`). */
  | 'leased'
  /** Handled and acked (remembered for the dedup window). */
  | 'processed'
  /** In `mqtt:dlq:<topic>` for this subscriber. */
  | 'dead_lettered'
  /** No trace: never received by this subscriber, or processed longer ago than its dedup window. */
  | 'unknown';

/** What `DeliveryLedger.deliveries` answers for one query. Times are epoch milliseconds. */
export interface DeliveryFact extends DeliveryQuery {
  readonly state: DeliveryState;
  /** Attempts spent so far (a lapsed lease counts); for a dead letter, its attempts. */
  readonly attempts: number;
  readonly maxAttempts?: number;
  /** Errors of the attempts so far (pending/leased), oldest first. */
  readonly errors: readonly AttemptError[];
  readonly firstReceivedAt?: number;
  /** pending: when it is due (now or later, after backoff). */
  readonly nextAttemptAt?: number;
  /** leased: when the lease lapses. */
  readonly leaseExpiresAt?: number;
  /** processed: when it was acked (derived from the dedup expiry and the subscription's window). */
  readonly processedAt?: number;
  /** The subscriber's DLQ entry of this event, whatever the state (a replayed event may be pending again). */
  readonly deadLetter?: Pick<DeadLetter, 'id' | 'reason' | 'code' | 'attempts' | 'errors' | 'deadLetteredAt' | 'firstFailureAt'>;
}

/** Most queries one `deliveries` call takes. */
export const MAX_DELIVERY_QUERIES = 1_000;

export type DeadLetterReason =
  /** Failed transiently on every one of its maxAttempts attempts. */
  | 'max_attempts'
  /** Not a valid envelope for its topic (undecodable, too deep, schema): never entered the ledger. */
  | 'invalid_envelope'
  /** Its last attempt's lease lapsed (the handler hung or its instance died). */
  | 'visibility_timeout'
  /** The handler threw a PermanentError (or the message turned out invalid when handled): at once. */
  | 'permanent_error'
  /** The ledger refused to store it for a reason retrying cannot fix: never entered the ledger. */
  | 'unrecordable'
  /** An HTTP consumer nacked it as final (the broker's pull API). */
  | 'nacked';

export interface DeadLetter {
  /** event_id, or an id derived from the bytes (`deadLetterId`) when the message was not a valid envelope. */
  readonly id: string;
  readonly topic: string;
  readonly subscriber: string;
  /**
   * The message as received: whole for an envelope that entered the ledger (it can be replayed),
   * else at most a bounded prefix (`bodyTruncated`; default 4 KiB) of what arrived.
   */
  readonly body: string;
  /** Size in bytes (UTF-8) of the whole message as received. */
  readonly bodyBytes: number;
  /** SHA-256 (hex) of the whole message as received. */
  readonly bodySha256: string;
  /** True when `body` is only a prefix of what was received. */
  readonly bodyTruncated: boolean;
  readonly reason: DeadLetterReason;
  /** Reason code of a permanent error (`PermanentError.code`). */
  readonly code?: string;
  readonly attempts: number;
  readonly errors: readonly AttemptError[];
  readonly firstFailureAt: string;
  readonly lastFailureAt: string;
  readonly deadLetteredAt: string;
}

/**
 * `mqtt:dlq:<topic>`: dead letters per topic, oldest (by deadLetteredAt) first.
 * An entry is identified by (subscriber, id): when two subscribers of a topic both dead-letter the
 * same event, each keeps its own entry (its own errors and attempts). Adding an entry with the
 * (subscriber, id) of an existing one replaces it.
 */
/** What `DeadLetterStore.add` takes: the body fields are computed (and the body bounded) by the store. */
export type DeadLetterInput = Omit<DeadLetter, 'bodyBytes' | 'bodySha256' | 'bodyTruncated' | 'body'> & {
  /** The message as received (bounded to the store's `maxBodyBytes` prefix when stored). */
  readonly body: string | Uint8Array;
  readonly bodyBytes?: number;
  readonly bodySha256?: string;
  readonly bodyTruncated?: boolean;
};

/** A dead letter was written (whatever made it): what `onDeadLetter` listeners get. */
export interface DeadLetterNotice {
  readonly subscriber: string;
  readonly topic: string;
  readonly id: string;
  readonly reason: DeadLetterReason;
}

export interface DeadLetterStore {
  /**
   * Adds an entry (used directly for messages that never enter the ledger). The body is bounded to
   * a prefix of `maxBodyBytes`; its full size and SHA-256 are kept.
   */
  add(entry: DeadLetterInput): Promise<void>;
  /**
   * Calls `listener` for every dead letter written through this store or its ledger (max attempts,
   * lapsed last lease, permanent error, `add`), once per new entry; returns the unsubscribe function.
   * Both adapters have it (optional for other implementations, e.g. test fakes; `dlq_total` then
   * does not see what they write).
   */
  onDeadLetter?(listener: (notice: DeadLetterNotice) => void): () => void;
  /** Topics that have entries, with how many. */
  topics(): Promise<{ topic: string; depth: number }[]>;
  /** Entries of a topic, oldest first; offset defaults to 0, limit to 100. */
  list(topic: string, options?: { offset?: number; limit?: number }): Promise<DeadLetter[]>;
  /** The entry `id` of `subscriber` (any subscriber's, the oldest, when omitted). */
  get(topic: string, id: string, subscriber?: string): Promise<DeadLetter | undefined>;
  /**
   * Removes entries: those with the given ids (every subscriber's unless `subscriber` is given), or
   * all of the topic (of `subscriber`) when ids is omitted; returns how many were removed.
   */
  remove(topic: string, ids?: readonly string[], subscriber?: string): Promise<number>;
}

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerStatus {
  readonly subscriber: string;
  readonly topic: string;
  readonly state: BreakerState;
  /** Failures inside the current rolling window. */
  readonly failures: number;
  /** When an open breaker lets its probe through. */
  readonly openUntil?: number;
}

/** `cb:<subscriber>:<topic>`: breaker state shared by all instances of a subscriber. */
export interface CircuitBreakerStore {
  status(subscriber: string, topic: string): Promise<BreakerStatus>;
  list(): Promise<BreakerStatus[]>;
  /** Forces the breaker closed and clears its failure window. */
  reset(subscriber: string, topic: string): Promise<void>;
}
