// Booking's schema. Versions 100 and up (the outbox/inbox migrations own 1..99); applied with
// `migrate(db, [...OUTBOX_MIGRATIONS, ...BOOKING_MIGRATIONS])`. Append new migrations; never edit
// an applied one (the runner refuses a changed checksum). Same SQL on Postgres and PGlite.
import type { Migration } from '@albergue/outbox';

export const BOOKING_MIGRATIONS: readonly Migration[] = [
  {
    version: 100,
    name: 'booking_inventory',
    sql: `
-- Booking's copy of each albergue, built from location's events. Its row is the albergue's
-- inventory lock: every change of the albergue's occupancy happens under SELECT … FOR UPDATE of it.
CREATE TABLE inventory_albergues (
  albergue_id        text PRIMARY KEY,
  name               text NOT NULL,
  price_amount_minor integer NOT NULL CHECK (price_amount_minor >= 0),
  price_currency     text NOT NULL,
  beds               integer NOT NULL CHECK (beds >= 0), -- as registered: nights before the first change
  updated_at         timestamptz NOT NULL DEFAULT now()
);

-- The capacity schedule: from effective_from on (until the next change) the albergue has beds.
CREATE TABLE inventory_capacity_changes (
  albergue_id    text NOT NULL REFERENCES inventory_albergues (albergue_id) ON DELETE CASCADE,
  effective_from date NOT NULL,
  beds           integer NOT NULL CHECK (beds >= 0),
  PRIMARY KEY (albergue_id, effective_from)
);

-- Beds held by reserved or confirmed bookings, per night; a missing row is 0.
CREATE TABLE inventory_nights (
  albergue_id text NOT NULL REFERENCES inventory_albergues (albergue_id) ON DELETE CASCADE,
  night       date NOT NULL,
  taken       integer NOT NULL CHECK (taken >= 0),
  PRIMARY KEY (albergue_id, night)
);

-- Beds the albergue has on a night (the domain's capacityOn).
CREATE FUNCTION inventory_capacity_on(p_albergue_id text, p_night date) RETURNS integer
LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    (SELECT c.beds FROM inventory_capacity_changes c
      WHERE c.albergue_id = p_albergue_id AND c.effective_from <= p_night
      ORDER BY c.effective_from DESC LIMIT 1),
    (SELECT a.beds FROM inventory_albergues a WHERE a.albergue_id = p_albergue_id))
$$;

-- Second line of defence against overbooking: a night's occupancy may never GROW past its
-- capacity. It may stay above it (a capacity cut below the beds already held keeps those bookings)
-- and shrink (cancellations, expiries); only an increase is checked.
CREATE FUNCTION inventory_nights_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  capacity integer;
BEGIN
  IF TG_OP = 'UPDATE' THEN
    IF NEW.taken <= OLD.taken THEN
      RETURN NEW;
    END IF;
  ELSIF NEW.taken <= 0 THEN
    RETURN NEW;
  END IF;
  capacity := inventory_capacity_on(NEW.albergue_id, NEW.night);
  IF NEW.taken > coalesce(capacity, 0) THEN
    RAISE EXCEPTION 'overbooking refused: % beds held at albergue % on %, capacity %',
      NEW.taken, NEW.albergue_id, NEW.night, capacity
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER inventory_nights_no_overbooking
  BEFORE INSERT OR UPDATE OF taken ON inventory_nights
  FOR EACH ROW EXECUTE FUNCTION inventory_nights_guard();
`,
  },
  {
    version: 101,
    name: 'bookings',
    sql: `
-- One row per booking: its state (the domain's BookingState as JSON, the write model) and the
-- columns the queries and the expiry scheduler search by (the read projection).
CREATE TABLE bookings (
  booking_id      text PRIMARY KEY CHECK (length(booking_id) BETWEEN 1 AND 128),
  albergue_id     text NOT NULL REFERENCES inventory_albergues (albergue_id),
  guest_id        text NOT NULL,
  status          text NOT NULL CHECK (status IN ('reserved', 'confirmed', 'cancelled', 'expired')),
  check_in        date NOT NULL,
  check_out       date NOT NULL,
  beds            integer NOT NULL CHECK (beds > 0),
  hold_expires_at timestamptz NOT NULL,
  state           jsonb NOT NULL,
  correlation_id  text NOT NULL,
  last_event_id   text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CHECK (check_in < check_out)
);
CREATE INDEX bookings_guest ON bookings (guest_id, check_in DESC);
CREATE INDEX bookings_albergue ON bookings (albergue_id, check_in);
-- The expiry scheduler's scan: reserved bookings by hold end.
CREATE INDEX bookings_due_holds ON bookings (hold_expires_at, booking_id) WHERE status = 'reserved';
`,
  },
];
