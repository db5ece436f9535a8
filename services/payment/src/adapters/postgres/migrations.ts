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
];
