// The ports location's application layer needs. The Postgres adapter implements AlbergueRepository
// and AlbergueTransaction on one SqlExecutor shared with the outbox append.
import type { EventEnvelope } from '@albergue/events';
import type { AlbergueState } from '../domain/albergue.js';

export type { Clock, IdGenerator } from '@albergue/application';

export interface LocationConfig {
  /** Where "today" is decided for capacity changes (default Europe/Madrid). */
  readonly timeZone: string;
}

export const DEFAULT_LOCATION_CONFIG: LocationConfig = { timeZone: 'Europe/Madrid' };

export interface AlbergueRecord {
  readonly state: Extract<AlbergueState, { status: 'registered' }>;
  /** event_id of the albergue's latest event. */
  readonly last_event_id: string;
}

/** `save` lost an insert race: the albergue is already stored (registered concurrently). Retry the unit of work. */
export class AlbergueConflictError extends Error {
  readonly code = 'albergue_conflict';
  constructor(message: string) {
    super(message);
    this.name = 'AlbergueConflictError';
  }
}

export interface AlbergueRepository {
  /**
   * Runs `work` in one transaction: commits when it resolves, rolls back when it throws. When `work`
   * fails with AlbergueConflictError the adapter may run it again in a new transaction (a bounded
   * number of times: the retry then loads the winner's albergue, so a concurrent registration ends
   * as albergue_exists), so keep side effects other than `tx` out of `work`.
   */
  transaction<T>(work: (tx: AlbergueTransaction) => Promise<T>): Promise<T>;
}

export interface AlbergueTransaction {
  /** The albergue, locked until commit (`SELECT … FOR UPDATE`); undefined when not registered. */
  load(albergueId: string): Promise<AlbergueRecord | undefined>;
  /**
   * Inserts or updates the albergue and its query projection. An albergue this transaction loaded
   * (or saved) is updated; any other is inserted. Two concurrent registrations of one id: the
   * insert fails on the primary key for the second — it rejects with AlbergueConflictError (the
   * repository's transaction retries, and the retry answers albergue_exists) — and never
   * overwrites the first.
   */
  save(record: AlbergueRecord): Promise<void>;
  /** Inserts the envelopes into outbox_events in this transaction, in order. */
  appendToOutbox(envelopes: readonly EventEnvelope[]): Promise<void>;
}

export interface AlbergueView {
  readonly albergue_id: string;
  readonly name: string;
  readonly town: string;
  readonly route: string;
  readonly location: { readonly lat: number; readonly lon: number };
  /** Beds tonight (from the capacity schedule). */
  readonly beds: number;
  readonly nightly_price: { readonly amount_minor: number; readonly currency: string };
  /** Registered beds, then each change from its night on. */
  readonly capacity_schedule: readonly { readonly effective_from: string | null; readonly beds: number }[];
  readonly registered_at?: string;
}

export interface AlbergueFilter {
  readonly route?: string;
  readonly town?: string;
}

/** Read side (projections only). `today` selects the beds shown. */
export interface AlbergueQueries {
  findAlbergue(albergueId: string, today: string): Promise<AlbergueView | undefined>;
  /** Ordered by longitude descending (east to west: the order pilgrims walk the Camino Francés), then name. */
  listAlbergues(filter: AlbergueFilter, today: string): Promise<AlbergueView[]>;
}
