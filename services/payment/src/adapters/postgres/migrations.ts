// Payment's schema. Applied with the outbox/inbox tables in payment's own database:
//   migrate(db, [...OUTBOX_MIGRATIONS, ...PAYMENT_MIGRATIONS])
// Versions 100+ (1..99 belong to @albergue/outbox). Append new migrations; never edit an applied one
// (the runner refuses a changed checksum). Plain Postgres 15 SQL that PGlite runs too.
import type { Migration } from '@albergue/outbox';

export const PAYMENT_MIGRATIONS: readonly Migration[] = [
  {
    version: 100,
    name: 'payments',
    sql: `
-- The write model: one row per booking (the payment, or the memory that its booking ended before
-- any payment). state is the domain's PaymentState; the other columns are keys and index fields
-- derived from it on every save.
CREATE TABLE payments (
  booking_id          text PRIMARY KEY,
  payment_id          text UNIQUE,              -- NULL while status = 'booking_ended'
  status              text NOT NULL CHECK (status IN ('booking_ended', 'initiated', 'confirmed', 'failed', 'voided', 'refund_pending', 'refunded')),
  state               jsonb NOT NULL,
  correlation_id      text NOT NULL,            -- the booking flow
  last_event_id       text NOT NULL,            -- cause of the payment's next event
  refund_requested_at timestamptz,              -- set while status = 'refund_pending'
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  CHECK ((payment_id IS NULL) = (status = 'booking_ended')),
  CHECK ((refund_requested_at IS NOT NULL) = (status = 'refund_pending'))
);
-- The refund sweep: pending refunds, oldest request first.
CREATE INDEX payments_refund_pending ON payments (refund_requested_at, payment_id) WHERE status = 'refund_pending';
`,
  },
  {
    version: 101,
    name: 'payment_views',
    sql: `
-- The read model behind PaymentQueries: one row per payment (none for a booking that ended before
-- its payment started), written in the same transaction as the payments row.
CREATE TABLE payment_views (
  payment_id         text PRIMARY KEY,
  booking_id         text NOT NULL UNIQUE,
  status             text NOT NULL,
  amount_minor       bigint NOT NULL CHECK (amount_minor >= 0),
  currency           text NOT NULL,
  provider           text NOT NULL,
  initiated_at       timestamptz NOT NULL,
  provider_reference text,
  confirmed_at       timestamptz,
  reason_code        text,
  reason             text,
  failed_at          timestamptz,
  voided_at          timestamptz,
  refund_reference   text,
  refunded_at        timestamptz,
  updated_at         timestamptz NOT NULL DEFAULT now()
);
`,
  },
  {
    version: 102,
    name: 'charge_attempts',
    sql: `
-- A charge is recorded before it is made: one row per try, committed before the provider is called.
-- attempt_id (UUIDv7) is the provider's idempotency key. At most one open attempt (pending:
-- provider not answered yet; accepted: outcome not known yet) per payment, whatever the number of
-- instances: the partial unique index below, behind the payments row lock the charge takes.
CREATE TABLE charge_attempts (
  attempt_id         text PRIMARY KEY,
  payment_id         text NOT NULL,
  status             text NOT NULL CHECK (status IN ('pending', 'accepted', 'rejected', 'succeeded', 'failed', 'abandoned')),
  provider_reference text,
  reason_code        text,
  checks             integer NOT NULL DEFAULT 0 CHECK (checks >= 0),   -- recovery-sweep lookups so far
  next_check_at      timestamptz NOT NULL,                             -- when the sweep asks the provider next
  created_at         timestamptz NOT NULL,
  updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX charge_attempts_one_open ON charge_attempts (payment_id) WHERE status IN ('pending', 'accepted');
CREATE INDEX charge_attempts_due ON charge_attempts (next_check_at) WHERE status IN ('pending', 'accepted');
CREATE INDEX charge_attempts_by_payment ON charge_attempts (payment_id, provider_reference);
`,
  },
  {
    version: 103,
    name: 'refunds',
    sql: `
-- Money to give back: one row per refunded charge (provider_reference), written with the decision
-- that asked for it. pending → succeeded, or → failed after the retry budget (an operator retries).
CREATE TABLE refunds (
  refund_id          text PRIMARY KEY,
  payment_id         text NOT NULL,
  booking_id         text NOT NULL,
  provider_reference text NOT NULL UNIQUE,
  amount_minor       bigint NOT NULL CHECK (amount_minor >= 0),
  currency           text NOT NULL,
  reason             text NOT NULL,
  status             text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
  attempts           integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),  -- failed provider calls
  next_attempt_at    timestamptz,
  last_error         text,
  refund_reference   text,
  requested_at       timestamptz NOT NULL,
  refunded_at        timestamptz,
  updated_at         timestamptz NOT NULL DEFAULT now(),
  CHECK ((next_attempt_at IS NOT NULL) = (status = 'pending')),
  CHECK ((refund_reference IS NOT NULL) = (status = 'succeeded'))
);
CREATE INDEX refunds_due ON refunds (next_attempt_at) WHERE status = 'pending';
CREATE INDEX refunds_by_status ON refunds (status, requested_at);
`,
  },
];
