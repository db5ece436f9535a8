// Notifications' schema, in its own database next to the outbox/inbox tables. Versions 100+ (1..99
// belong to @albergue/outbox). Append new migrations; never edit an applied one. Plain Postgres SQL
// that PGlite runs too.
import type { Migration } from '@albergue/outbox';

export const NOTIFICATIONS_MIGRATIONS: readonly Migration[] = [
  {
    version: 100,
    name: 'guest_contacts',
    sql: `
-- The contact read model, learnt from BookingReserved (the one event that carries a contact).
-- A forgotten guest keeps only its tombstone: name, email and locale are erased (NULL).
CREATE TABLE guest_contacts (
  guest_id     text PRIMARY KEY,
  name         text,
  email        text,
  locale       text,
  as_of        text NOT NULL,            -- occurred_at (ISO-8601 UTC) of the event that wrote the contact
  forgotten_at text,                     -- set by DELETE /contacts/{guest_id}
  updated_at   timestamptz NOT NULL DEFAULT now(),
  CHECK ((forgotten_at IS NULL) = (email IS NOT NULL AND name IS NOT NULL AND locale IS NOT NULL))
);
-- What a message about a booking says about it, and whose booking it is.
CREATE TABLE booking_facts (
  booking_id   text PRIMARY KEY,
  guest_id     text NOT NULL,
  albergue_id  text NOT NULL,
  check_in     text NOT NULL,
  check_out    text NOT NULL,
  beds         integer NOT NULL,
  total_minor  bigint NOT NULL,
  currency     text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX booking_facts_guest ON booking_facts (guest_id);
-- One row per notification, written in the inbox transaction once its outcome is known (sent: the
-- SMTP server accepted it; failed: for good). notification_id is derived from (event, template).
-- The recipient is kept masked only.
CREATE TABLE notifications (
  notification_id    text PRIMARY KEY,
  template           text NOT NULL,
  locale             text NOT NULL,
  channel            text NOT NULL DEFAULT 'email',
  recipient_masked   text,
  status             text NOT NULL CHECK (status IN ('sent', 'failed')),
  related_event_id   text NOT NULL,
  related_event_type text NOT NULL,
  booking_id         text,
  guest_id           text,
  correlation_id     text NOT NULL,
  message_id         text,
  detail             text,
  sent_at            timestamptz,
  failed_at          timestamptz,
  created_at         timestamptz NOT NULL DEFAULT now(),
  UNIQUE (related_event_id, template),
  CHECK ((status = 'sent') = (sent_at IS NOT NULL)),
  CHECK ((status = 'failed') = (failed_at IS NOT NULL))
);
CREATE INDEX notifications_booking ON notifications (booking_id, created_at) WHERE booking_id IS NOT NULL;
CREATE INDEX notifications_guest ON notifications (guest_id, created_at) WHERE guest_id IS NOT NULL;
`,
  },
];
