// AlbergueQueries on Postgres: reads the albergue_views projection only (written by
// PgAlbergueRepository's save in the command's transaction).
import type { SqlExecutor } from '@albergue/outbox';
import type { AlbergueFilter, AlbergueQueries, AlbergueView } from '../../application/ports.js';

interface ViewRow {
  [column: string]: unknown;
  albergue_id: string;
  name: string;
  town: string;
  route: string;
  lat: number;
  lon: number;
  registered_beds: number;
  beds: number;
  price_amount_minor: number | string; // int8: a string from pg, a number from PGlite
  price_currency: string;
  registered_at: Date | null;
  capacity_changes: { effective_from: string; beds: number }[];
}

// Beds on the night `today` ($1): the latest change from that night or before, else the registered beds.
const SELECT = `SELECT albergue_id, name, town, route, lat, lon, registered_beds, price_amount_minor, price_currency,
  registered_at, capacity_changes,
  coalesce((SELECT (c->>'beds')::int FROM jsonb_array_elements(capacity_changes) AS c
            WHERE (c->>'effective_from') COLLATE "C" <= $1::text COLLATE "C"
            ORDER BY (c->>'effective_from') COLLATE "C" DESC LIMIT 1), registered_beds) AS beds
  FROM albergue_views`;

/** `registered_at` comes back in `Date.toISOString()` form (UTC, milliseconds), as the domain writes it. */
function toView(r: ViewRow): AlbergueView {
  const view: AlbergueView = {
    albergue_id: r.albergue_id,
    name: r.name,
    town: r.town,
    route: r.route,
    location: { lat: r.lat, lon: r.lon },
    beds: r.beds,
    nightly_price: { amount_minor: Number(r.price_amount_minor), currency: r.price_currency },
    capacity_schedule: [
      { effective_from: null, beds: r.registered_beds },
      ...r.capacity_changes.map((c) => ({ effective_from: c.effective_from, beds: c.beds })),
    ],
  };
  return r.registered_at === null ? view : { ...view, registered_at: r.registered_at.toISOString() };
}

export class PgAlbergueQueries implements AlbergueQueries {
  /** `db`: the service's SqlDatabase (any SqlExecutor works). */
  constructor(private readonly db: SqlExecutor) {}

  async findAlbergue(albergueId: string, today: string): Promise<AlbergueView | undefined> {
    const { rows } = await this.db.query<ViewRow>(`${SELECT} WHERE albergue_id = $2`, [today, albergueId]);
    return rows[0] && toView(rows[0]);
  }

  /** East to west (longitude descending), then by name and id. */
  async listAlbergues(filter: AlbergueFilter, today: string): Promise<AlbergueView[]> {
    const { rows } = await this.db.query<ViewRow>(
      `${SELECT} WHERE ($2::text IS NULL OR route = $2) AND ($3::text IS NULL OR town = $3) ORDER BY lon DESC, name, albergue_id`,
      [today, filter.route ?? null, filter.town ?? null],
    );
    return rows.map(toView);
  }
}
