// Documents' schema. Applied with the outbox/inbox tables in documents' own database. Versions 100+
// (1..99 belong to @albergue/outbox, 60 to the runtime's idempotency keys). Append new migrations; never
// edit an applied one. Plain Postgres 15 SQL that PGlite runs too.
import type { Migration } from '@albergue/outbox';

export const DOCUMENTS_MIGRATIONS: readonly Migration[] = [
  {
    version: 100,
    name: 'documents',
    sql: `
-- The write model: one row per submitted document. state is the domain's DocumentState (masked number,
-- never the full one); the number and the MRZ are sealed (AES-256-GCM, see docs/documents.md) with the
-- key named by key_id. The decision event's id, flow and cause are fixed at submission.
CREATE TABLE documents (
  document_id       text PRIMARY KEY,
  status            text NOT NULL CHECK (status IN ('pending', 'validated', 'rejected')),
  state             jsonb NOT NULL,
  number_sealed     text NOT NULL,
  mrz_sealed        text,
  key_id            text NOT NULL,
  decision_event_id text NOT NULL,
  correlation_id    text NOT NULL,
  causation_id      text NOT NULL,
  submitted_at      timestamptz NOT NULL,
  updated_at        timestamptz NOT NULL DEFAULT now()
);
-- The validator's queue: pending documents, oldest first.
CREATE INDEX documents_pending ON documents (submitted_at, document_id) WHERE status = 'pending';
`,
  },
  {
    version: 101,
    name: 'document_views',
    sql: `
-- The read model behind DocumentQueries, written in the same transaction as the documents row.
CREATE TABLE document_views (
  document_id            text PRIMARY KEY,
  guest_id               text NOT NULL,
  booking_id             text,
  document_type          text NOT NULL,
  document_number_masked text NOT NULL,
  issuing_country        text NOT NULL,
  expires_on             text NOT NULL,
  status                 text NOT NULL,
  reasons                jsonb NOT NULL DEFAULT '[]',
  submitted_at           text NOT NULL,
  decided_at             text
);
CREATE INDEX document_views_guest ON document_views (guest_id);
CREATE INDEX document_views_booking ON document_views (booking_id, submitted_at) WHERE booking_id IS NOT NULL;
`,
  },
];
