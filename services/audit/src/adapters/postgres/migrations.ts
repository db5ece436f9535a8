// Audit's schema, in audit's own database with the outbox/inbox tables:
//   migrate(db, [...OUTBOX_MIGRATIONS, ...AUDIT_MIGRATIONS])
// Versions 100+ (1..99 belong to @albergue/outbox). Append new migrations; never edit an applied one.
// Plain Postgres 15 SQL that PGlite runs too.
import type { Migration } from '@albergue/outbox';

export const AUDIT_MIGRATIONS: readonly Migration[] = [
  {
    version: 100,
    name: 'audit_events',
    sql: `
-- The audit trail: every albergue event once, append-only. seq is the recording order, which is the
-- commit order (appends take a transaction-scoped advisory lock), so a reader paging by seq never
-- skips a row that commits later.
CREATE TABLE audit_events (
  seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id        uuid NOT NULL UNIQUE,
  topic           text NOT NULL,
  event_type      text NOT NULL,
  event_version   integer NOT NULL,
  aggregate_type  text NOT NULL,
  aggregate_id    text NOT NULL,
  correlation_id  uuid NOT NULL,
  causation_id    text NOT NULL,
  occurred_at     timestamptz NOT NULL,
  recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
  envelope        jsonb NOT NULL
);
CREATE INDEX audit_events_correlation ON audit_events (correlation_id, seq);
CREATE INDEX audit_events_aggregate ON audit_events (aggregate_id, seq);
CREATE INDEX audit_events_aggregate_type ON audit_events (aggregate_type, aggregate_id, seq);
CREATE INDEX audit_events_type ON audit_events (event_type, seq);
CREATE INDEX audit_events_occurred ON audit_events (occurred_at);

-- Append-only: UPDATE, DELETE and TRUNCATE fail for every role (the table owner included).
CREATE FUNCTION audit_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change();
`,
  },
];
