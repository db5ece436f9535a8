// The ports of the operations service: the Postgres store of the projections (the truth, written in
// the inbox transaction), the live store (Redis, or memory in the embedded mode: a copy of the
// Postgres rows, pushed after commit), and the event history the rebuild reads (the audit trail).
import type { AlbergueEvent } from '@albergue/events';
import type { CounterContribution, Doc, IndexEntry, Projection, ProjectionState } from '../domain/projection.js';

/** An entity row as stored: its document, the version of its last change, and its index entries. */
export interface EntityRow {
  readonly key: string;
  readonly doc: Doc;
  /** Increases with every change of the row (one Postgres sequence); the live store keeps the highest. */
  readonly version: number;
  readonly indexes: readonly IndexEntry[];
}

export interface CounterRow {
  readonly key: string;
  readonly field: string;
  readonly value: number;
  readonly version: number;
}

/** Rows changed by one transaction (or every row: a snapshot), to copy into the live store. */
export interface RowChanges {
  readonly entities: readonly EntityRow[];
  readonly counters: readonly CounterRow[];
}

/** Every row of a projection, and the rebuild epoch of Postgres it was read in. */
export interface Snapshot extends RowChanges {
  readonly epoch: number;
}

/** What the queries read; both stores answer it (live: Redis/memory, reports: Postgres). */
export interface ProjectionReader {
  entities(projection: string, keys: readonly string[]): Promise<(Doc | undefined)[]>;
  /** field → value of one counter group (absent fields are 0). */
  counters(projection: string, key: string): Promise<Record<string, number>>;
  /** Every counter group key of the projection. */
  counterKeys(projection: string): Promise<string[]>;
  /** The first `limit` members of an index by ascending score, and how many it holds. */
  indexRange(projection: string, index: string, limit: number): Promise<{ members: { key: string; score: number }[]; total: number }>;
  /** The whole projection (zero counters left out): what the rebuild tests compare. */
  dump(projection: string): Promise<ProjectionState>;
}

/** The live store: a copy of the Postgres rows, newest version wins per row. */
export interface LiveStore extends ProjectionReader {
  readonly kind: 'redis' | 'memory';
  /**
   * Copies changed rows, keeping per row the highest version (an older push that arrives late
   * changes nothing). `false` when the store has no generation of the projection yet (empty or lost):
   * the caller resyncs.
   */
  push(p: Projection, changes: RowChanges): Promise<boolean>;
  /**
   * Replaces the projection with `load()` (every Postgres row) in a new generation, swapped in
   * atomically; pushes made meanwhile reach both generations. `false` when another resync of the
   * projection is running (Redis: a lock shared by every instance).
   */
  resync(p: Projection, load: () => Promise<Snapshot>): Promise<boolean>;
  /**
   * The Postgres rebuild epoch the current generation was copied from, or undefined when there is no
   * generation (never synced, or Redis lost its data).
   */
  epoch(p: Projection): Promise<number | undefined>;
  close(): Promise<void>;
}

/** Writes of one inbox transaction to the Postgres store of one projection. */
export interface ProjectionTransaction {
  /** Records that `storage` applied the event; false when it already had (the event changes nothing). */
  claim(storage: string, eventId: string): Promise<boolean>;
  /** The entity's document, locked until commit. */
  loadEntity(storage: string, key: string): Promise<Doc | undefined>;
  /** Stores the document and its index entries; returns the row's new version. */
  saveEntity(storage: string, key: string, doc: Doc, indexes: readonly IndexEntry[]): Promise<number>;
  /** Adds the deltas (in the order given: the lock order) and returns the rows as they are now. */
  addToCounters(storage: string, deltas: readonly CounterContribution[]): Promise<CounterRow[]>;
}

/** One recorded event of the audit trail (GET /audit/events). */
export interface HistoryItem {
  readonly seq: number | string;
  readonly event_id: string;
  readonly topic: string;
  readonly event_type: string;
  readonly recorded_at: string;
  readonly envelope: unknown;
}

export interface HistoryPage {
  readonly items: readonly HistoryItem[];
  readonly next_cursor: string | null;
}

/** The recorded events, in recording order, a page at a time (the audit service's API, or memory). */
export interface EventHistory {
  /** Where it reads from, for messages. */
  readonly source: string;
  page(cursor: string | null, limit: number): Promise<HistoryPage>;
}

/** The history could not be read (unreachable, refused, an answer not in the agreed shape). */
export class HistoryUnavailable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HistoryUnavailable';
  }
}

/** An event the rebuild or a handler applies. */
export type ProjectedEvent = AlbergueEvent;
