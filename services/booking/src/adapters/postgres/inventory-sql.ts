// Reading an albergue's inventory and a booking row, shared by PgBookingRepository (under lock)
// and PgBookingQueries (without). Dates come back as text (`YYYY-MM-DD`), never as JS Dates.
import type { SqlExecutor } from '@albergue/outbox';
import type { AlbergueInventory, CapacityChange } from '../../domain/inventory.js';
import type { BookingRecord } from '../../application/ports.js';

type InventoryRow = {
  albergue_id: string;
  name: string;
  price_amount_minor: number;
  price_currency: string;
  beds: number;
  capacity_changes: CapacityChange[];
  taken: Record<string, number>;
};

// One statement, so one snapshot: the schedule and the nights agree with each other. Under
// loadInventory it runs AFTER the statement that locks the albergue row, so its snapshot is taken
// once the lock is held and sees every occupancy change committed before it (a single
// `SELECT … FOR UPDATE` with these subqueries would read the nights from before the lock wait).
const INVENTORY_SQL = `
SELECT a.albergue_id, a.name, a.price_amount_minor, a.price_currency, a.beds,
  (SELECT coalesce(json_agg(json_build_object('effective_from', to_char(c.effective_from, 'YYYY-MM-DD'), 'beds', c.beds)
                            ORDER BY c.effective_from), '[]'::json)
     FROM inventory_capacity_changes c WHERE c.albergue_id = a.albergue_id) AS capacity_changes,
  (SELECT coalesce(json_object_agg(to_char(n.night, 'YYYY-MM-DD'), n.taken), '{}'::json)
     FROM inventory_nights n WHERE n.albergue_id = a.albergue_id AND n.night = ANY($2::date[])) AS taken
FROM inventory_albergues a
WHERE a.albergue_id = $1`;

/**
 * The albergue's inventory with `taken` for every night asked (0 where no bed is held), or
 * undefined when booking does not know the albergue. Takes no lock itself.
 */
export async function readInventory(
  db: SqlExecutor,
  albergueId: string,
  nights: readonly string[],
): Promise<AlbergueInventory | undefined> {
  const { rows } = await db.query<InventoryRow>(INVENTORY_SQL, [albergueId, [...nights]]);
  const row = rows[0];
  if (!row) return undefined;
  const taken: Record<string, number> = {};
  for (const night of nights) taken[night] = row.taken[night] ?? 0;
  return {
    albergue_id: row.albergue_id,
    name: row.name,
    nightly_price: { amount_minor: row.price_amount_minor, currency: row.price_currency },
    beds: row.beds,
    capacity_changes: row.capacity_changes.map((c) => ({ effective_from: c.effective_from, beds: c.beds })),
    taken,
  };
}

export type BookingRow = {
  state: BookingRecord['state'];
  correlation_id: string;
  last_event_id: string;
};

export function toRecord(row: BookingRow): BookingRecord {
  return { state: row.state, correlation_id: row.correlation_id, last_event_id: row.last_event_id };
}
