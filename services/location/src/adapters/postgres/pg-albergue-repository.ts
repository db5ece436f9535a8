// AlbergueRepository / AlbergueTransaction on Postgres (pg or PGlite, through @albergue/outbox's
// SqlDatabase port). Tables: LOCATION_MIGRATIONS. The albergue, its query projection and its outbox
// rows are written in one transaction.
import type { EventEnvelope } from '@albergue/events';
import type { SqlDatabase, SqlExecutor, SqlTransaction } from '@albergue/outbox';
import { Outbox } from '@albergue/outbox';
import type { AlbergueRecord, AlbergueRepository, AlbergueTransaction } from '../../application/ports.js';
import { AlbergueConflictError } from '../../application/ports.js';

/** Attempts of one unit of work that loses an insert race (the retry sees the winner's albergue). */
const MAX_ATTEMPTS = 3;

interface AlbergueRow {
  [column: string]: unknown;
  state: AlbergueRecord['state'];
  last_event_id: string;
}

/**
 * The albergue store on Postgres.
 *
 *   const repo = new PgAlbergueRepository(db, outbox);    // outbox: the runtime's Outbox (optional)
 *   await registerAlbergue({ repo, … }, input);           // repo.transaction(...) opens its own
 *   await db.transaction((tx) => work(repo.forTransaction(tx)));   // inside a transaction already open
 *
 * `load` locks the row (`FOR UPDATE`) until commit. `save` updates an albergue the transaction
 * loaded (or saved) and inserts any other; an insert that finds the id taken (a concurrent
 * registration won) rejects with AlbergueConflictError instead of overwriting, and
 * `transaction(work)` then runs `work` again (up to 3 attempts in all): registerAlbergue's retry
 * loads the winner and answers albergue_exists.
 */
export class PgAlbergueRepository implements AlbergueRepository {
  /** Albergue ids each open transaction loaded or saved (kept per SqlTransaction). */
  private readonly loaded = new WeakMap<SqlTransaction, Set<string>>();

  constructor(
    private readonly db: SqlDatabase,
    private readonly outbox: Outbox = new Outbox(db),
  ) {}

  async transaction<T>(work: (tx: AlbergueTransaction) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.db.transaction((tx) => work(this.forTransaction(tx)));
      } catch (err) {
        if (!(err instanceof AlbergueConflictError) || attempt >= MAX_ATTEMPTS) throw err;
      }
    }
  }

  /** The transaction port on a transaction that is already open: commit and rollback stay the caller's. */
  forTransaction(tx: SqlTransaction): AlbergueTransaction {
    let loaded = this.loaded.get(tx);
    if (!loaded) this.loaded.set(tx, (loaded = new Set()));
    return new PgAlbergueTransaction(tx, loaded, this.outbox);
  }
}

class PgAlbergueTransaction implements AlbergueTransaction {
  constructor(
    private readonly tx: SqlTransaction,
    private readonly loaded: Set<string>,
    private readonly outbox: Outbox,
  ) {}

  async load(albergueId: string): Promise<AlbergueRecord | undefined> {
    const { rows } = await this.tx.query<AlbergueRow>('SELECT state, last_event_id FROM albergues WHERE albergue_id = $1 FOR UPDATE', [
      albergueId,
    ]);
    const row = rows[0];
    if (!row) return undefined;
    this.loaded.add(albergueId);
    return { state: row.state, last_event_id: row.last_event_id };
  }

  async save(record: AlbergueRecord): Promise<void> {
    const id = record.state.albergue.albergue_id;
    const params = [id, JSON.stringify(record.state), record.last_event_id];
    if (this.loaded.has(id)) {
      const updated = await this.tx.query(
        'UPDATE albergues SET state = $2::jsonb, last_event_id = $3, updated_at = now() WHERE albergue_id = $1',
        params,
      );
      if (updated.rowCount !== 1) throw new AlbergueConflictError(`albergue ${id} disappeared`);
    } else {
      // A row with this id, committed or being inserted by a concurrent transaction (we wait for
      // it), makes the insert a no-op: the registration lost, nothing is overwritten.
      const inserted = await this.tx.query(
        `INSERT INTO albergues (albergue_id, state, last_event_id) VALUES ($1, $2::jsonb, $3)
         ON CONFLICT (albergue_id) DO NOTHING RETURNING 1 AS inserted`,
        params,
      );
      if (inserted.rows.length !== 1) throw new AlbergueConflictError(`albergue ${id} is already registered`);
      this.loaded.add(id);
    }
    await saveView(this.tx, record.state);
  }

  async appendToOutbox(envelopes: readonly EventEnvelope[]): Promise<void> {
    await this.outbox.append(this.tx, envelopes);
  }
}

/** Upserts the query projection of one albergue. */
async function saveView(tx: SqlExecutor, state: AlbergueRecord['state']): Promise<void> {
  const a = state.albergue;
  const changes = state.capacity_changes.map((c) => ({ effective_from: c.effective_from, beds: c.beds })); // sorted by the domain
  await tx.query(
    `INSERT INTO albergue_views (albergue_id, name, town, route, lat, lon, registered_beds, price_amount_minor, price_currency,
       registered_at, capacity_changes)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::timestamptz, $11::jsonb)
     ON CONFLICT (albergue_id) DO UPDATE SET
       name = EXCLUDED.name, town = EXCLUDED.town, route = EXCLUDED.route, lat = EXCLUDED.lat, lon = EXCLUDED.lon,
       registered_beds = EXCLUDED.registered_beds, price_amount_minor = EXCLUDED.price_amount_minor,
       price_currency = EXCLUDED.price_currency, registered_at = EXCLUDED.registered_at,
       capacity_changes = EXCLUDED.capacity_changes, updated_at = now()`,
    [
      a.albergue_id,
      a.name,
      a.town,
      a.route,
      a.location.lat,
      a.location.lon,
      a.beds,
      a.nightly_price.amount_minor,
      a.nightly_price.currency,
      a.registered_at ?? null,
      JSON.stringify(changes),
    ],
  );
}
