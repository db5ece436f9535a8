/**
 * The outbox/inbox schema, one entry per migration. Append new migrations; never edit an applied
 * one (the runner refuses a changed checksum).
 */
export interface Migration {
  /** Unique, ordered: the runner applies in this order. */
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/**
 * Relays LISTEN here. `Outbox.append` notifies after the command's commit, coalesced per process;
 * a NOTIFY inside the command transaction (e.g. a trigger) would serialise every commit on
 * Postgres' notify lock and halved command throughput in the benchmark.
 */
export const OUTBOX_NOTIFY_CHANNEL = 'outbox_events';

export const OUTBOX_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'outbox_events',
    sql: `
CREATE TABLE outbox_events (
  -- The sequence column: per aggregate, rows are published in id order.
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id       uuid NOT NULL UNIQUE,
  topic          text NOT NULL,                 -- logical form: albergue.<context>.v<N>.<Type>
  aggregate_type text NOT NULL,
  aggregate_id   text NOT NULL,
  envelope       jsonb NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  published_at   timestamptz,                   -- set only after the broker's PUBACK
  attempts       integer NOT NULL DEFAULT 0,    -- failed publish attempts
  last_error     text,
  available_at   timestamptz NOT NULL DEFAULT now(), -- retry backoff after a failed publish
  claimed_by     text,                          -- relay holding the lease
  claimed_until  timestamptz                    -- lease end; an expired lease is reclaimable
);
-- The relay scans unpublished rows in id order and checks each aggregate's earlier rows.
CREATE INDEX outbox_events_unpublished ON outbox_events (id) WHERE published_at IS NULL;
CREATE INDEX outbox_events_aggregate_unpublished
  ON outbox_events (aggregate_type, aggregate_id, id) WHERE published_at IS NULL;
`,
  },
  {
    version: 2,
    name: 'inbox_events',
    sql: `
CREATE TABLE inbox_events (
  subscriber   text NOT NULL,
  event_id     uuid NOT NULL,
  topic        text NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now(),
  processed_at timestamptz NOT NULL DEFAULT now(), -- commits with the handler's effect
  PRIMARY KEY (subscriber, event_id)
);
-- For pruning rows older than any possible redelivery.
CREATE INDEX inbox_events_processed_at ON inbox_events (processed_at);
`,
  },
  {
    version: 3,
    name: 'outbox_events_drop_aggregate_index',
    // The claim checks an aggregate's earlier rows within its window (claim.ts), not through this
    // index. Unused, it cost every append and every mark a second index entry, and with statistics
    // from a drained outbox the planner took it for the claim's window: a full scan of the backlog
    // and a sort, per claim (40,000 rows read for 400).
    sql: `
DROP INDEX IF EXISTS outbox_events_aggregate_unpublished;
`,
  },
  {
    version: 4,
    name: 'outbox_published',
    // Where a relay with publishedRows 'move' records the rows it deleted once published: no envelope
    // and no index, so the record costs a small heap insert (docs/performance.md). Prune it at will.
    sql: `
CREATE TABLE outbox_published (
  id             bigint NOT NULL,               -- the row's id in outbox_events
  event_id       uuid NOT NULL,
  topic          text NOT NULL,
  aggregate_type text NOT NULL,
  aggregate_id   text NOT NULL,
  created_at     timestamptz NOT NULL,
  published_at   timestamptz NOT NULL DEFAULT now(),
  attempts       integer NOT NULL               -- failed attempts before the one that succeeded
);
`,
  },
];
