// Location's schema. Applied with the outbox/inbox tables in location's own database:
//   migrate(db, [...OUTBOX_MIGRATIONS, ...LOCATION_MIGRATIONS])
// Versions 100+ (1..99 belong to @albergue/outbox). Append new migrations; never edit an applied one
// (the runner refuses a changed checksum). Plain Postgres 15 SQL that PGlite runs too.
import type { Migration } from '@albergue/outbox';

export const LOCATION_MIGRATIONS: readonly Migration[] = [
  {
    version: 100,
    name: 'albergues',
    sql: `
-- The write model: one row per registered albergue; state is the domain's AlbergueState
-- (registration + capacity schedule).
CREATE TABLE albergues (
  albergue_id   text PRIMARY KEY,
  state         jsonb NOT NULL,
  last_event_id text NOT NULL,                 -- the albergue's latest event
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
`,
  },
  {
    version: 101,
    name: 'albergue_views',
    sql: `
-- The read model behind AlbergueQueries, written in the same transaction as the albergues row.
CREATE TABLE albergue_views (
  albergue_id        text PRIMARY KEY,
  name               text NOT NULL,
  town               text NOT NULL,
  route              text NOT NULL,
  lat                double precision NOT NULL,
  lon                double precision NOT NULL,
  registered_beds    integer NOT NULL,
  price_amount_minor bigint NOT NULL,
  price_currency     text NOT NULL,
  registered_at      timestamptz,
  -- [{"effective_from": "YYYY-MM-DD", "beds": n}, …] in date order: the beds from each night on.
  capacity_changes   jsonb NOT NULL DEFAULT '[]',
  updated_at         timestamptz NOT NULL DEFAULT now()
);
-- Lists: east to west (the order pilgrims walk the Camino Francés), optionally by route and town.
CREATE INDEX albergue_views_walk_order ON albergue_views (lon DESC, name, albergue_id);
CREATE INDEX albergue_views_route_town ON albergue_views (route, town);
`,
  },
];
