// The operations service's schema (versions 100+; the outbox/inbox own 1..99). Append new
// migrations; never edit an applied one. Same SQL on Postgres and PGlite.
import type { Migration } from '@albergue/outbox';

export const OPERATIONS_MIGRATIONS: readonly Migration[] = [
  {
    version: 100,
    name: 'projections',
    sql: `
-- Versions of projection rows: one sequence, so a row's version grows with every change and the live
-- store (Redis) keeps the newest copy of each row whatever order the copies arrive in.
CREATE SEQUENCE ops_version_seq;

-- One row per projection: the lock a rebuild's swap takes (FOR UPDATE) and every handler shares (FOR SHARE).
CREATE TABLE ops_projections (
  projection text PRIMARY KEY,
  -- Grows with every rebuild swap; the live store records the epoch it copied, a different one means resync.
  epoch      bigint NOT NULL DEFAULT 0,
  rebuilt_at timestamptz,
  rebuilt_events bigint
);

-- Entity documents of each projection; "projection" is the storage name (the projection's name, or
-- "<name>~rebuild" for the shadow a rebuild fills before the swap).
CREATE TABLE ops_entities (
  projection text NOT NULL,
  key        text NOT NULL,
  doc        jsonb NOT NULL,
  version    bigint NOT NULL,
  PRIMARY KEY (projection, key)
);

-- Counters: always the sum of the contributions of the entity documents of the same storage.
CREATE TABLE ops_counters (
  projection text NOT NULL,
  key        text NOT NULL,
  field      text NOT NULL,
  value      bigint NOT NULL,
  version    bigint NOT NULL,
  PRIMARY KEY (projection, key, field)
);

-- Index entries of the entities (e.g. flows in flight by the time they started), kept with the entity.
CREATE TABLE ops_index (
  projection text NOT NULL,
  index_name text NOT NULL,
  key        text NOT NULL,
  score      double precision NOT NULL,
  PRIMARY KEY (projection, index_name, key)
);
CREATE INDEX ops_index_by_score ON ops_index (projection, index_name, score, key);

-- The events each storage applied: a duplicate (a second delivery, an event the rebuild already
-- took from the audit trail) changes nothing.
CREATE TABLE ops_applied (
  projection text NOT NULL,
  event_id   text NOT NULL,
  PRIMARY KEY (projection, event_id)
);

-- Every event received live, once: what a rebuild's swap applies to the shadow when the audit trail
-- it read did not have it yet.
CREATE TABLE ops_journal (
  event_id    text PRIMARY KEY,
  event_type  text NOT NULL,
  envelope    jsonb NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ops_journal_type ON ops_journal (event_type);
`,
  },
];
