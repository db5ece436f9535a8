// Ports of the audit service: the append-only store and the delivery facts (from the broker).
import type { EventEnvelope } from '@albergue/events';
import type { SqlTransaction } from '@albergue/outbox';

/** One row of `audit_events`. */
export interface StoredEvent {
  /** Recording order (commit order: appends are serialised, see docs/audit.md). */
  readonly seq: number;
  readonly eventId: string;
  /** Logical topic it arrived on. */
  readonly topic: string;
  readonly eventType: string;
  readonly eventVersion: number;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly correlationId: string;
  readonly causationId: string;
  /** As published (ISO-8601 UTC). */
  readonly occurredAt: string;
  /** When the audit service stored it (ISO-8601 UTC). */
  readonly recordedAt: string;
  /** The envelope as received (JSON). */
  readonly envelope: EventEnvelope;
}

export interface EventFilter {
  readonly aggregateId?: string;
  readonly eventType?: string;
  readonly correlationId?: string;
  /** occurred_at ≥ from (ISO-8601). */
  readonly from?: string;
  /** occurred_at < to (ISO-8601). */
  readonly to?: string;
}

/** `audit_events`: append and read, nothing else (the table refuses UPDATE, DELETE and TRUNCATE). */
export interface AuditStore {
  /** Stores the event in `tx`; undefined when its event_id is stored already (a redelivery). */
  append(tx: SqlTransaction, event: EventEnvelope, topic: string): Promise<StoredEvent | undefined>;
  /** Events matching `filter` with seq > afterSeq, by seq, at most `limit`. */
  list(filter: EventFilter, afterSeq: number, limit: number): Promise<StoredEvent[]>;
  /** The flow's events by seq (at most `limit`). */
  flow(correlationId: string, limit: number): Promise<StoredEvent[]>;
  /** The flow of the first event of an aggregate (e.g. a booking's BookingReserved). */
  correlationOfAggregate(aggregateType: string, aggregateId: string): Promise<string | undefined>;
}

export type DeliveryState = 'pending' | 'leased' | 'processed' | 'dead_lettered' | 'unknown';

export interface AttemptErrorView {
  readonly attempt: number;
  readonly at: string;
  readonly message: string;
}

/** One subscriber's delivery of one event (the broker's `POST /api/mqtt/deliveries` shape). */
export interface SubscriberDelivery {
  readonly subscriber: string;
  readonly state: DeliveryState;
  readonly attempts: number;
  readonly max_attempts?: number;
  readonly errors: readonly AttemptErrorView[];
  readonly first_received_at?: string;
  readonly next_attempt_at?: string;
  readonly lease_expires_at?: string;
  readonly processed_at?: string;
  readonly dead_letter?: {
    readonly id: string;
    readonly reason: string;
    readonly code?: string;
    readonly attempts: number;
    readonly errors: readonly AttemptErrorView[];
    readonly first_failure_at: string;
    readonly dead_lettered_at: string;
  };
}

export interface BreakerView {
  readonly subscriber: string;
  readonly topic: string;
  readonly state: string;
  readonly failures: number;
  readonly open_until?: string;
}

export interface DeliveryLookup {
  readonly eventId: string;
  readonly topic: string;
  /** Who must handle it; omitted: the broker's declared subscribers of the topic. */
  readonly subscribers?: readonly string[];
}

export interface DeliveryAnswer {
  /** event_id → its subscribers' deliveries. */
  readonly deliveries: ReadonlyMap<string, readonly SubscriberDelivery[]>;
  /** Breakers of the asked (subscriber, topic) pairs that are not closed. */
  readonly breakers: readonly BreakerView[];
}

/** The ledger's facts, through the broker's admin API (audit has no ledger access of its own). */
export interface DeliveryFacts {
  lookup(events: readonly DeliveryLookup[]): Promise<DeliveryAnswer>;
}
