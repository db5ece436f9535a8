// The projections in Postgres: the truth of the read model. Written in the inbox transaction by the
// handlers (PgProjectionTransaction), filled in bulk by a rebuild (a shadow storage swapped in with
// one transaction), read by the admin reports and copied into the live store.
import type { AlbergueEvent } from '@albergue/events';
import type { SqlDatabase, SqlExecutor, SqlTransaction } from '@albergue/outbox';
import type { CounterContribution, Doc, IndexEntry, Projection, ProjectionState } from '../../domain/projection.js';
import { handles } from '../../domain/projection.js';
import { applyEvent } from '../../application/apply-event.js';
import type { CounterRow, EntityRow, ProjectionReader, ProjectionTransaction, RowChanges, Snapshot } from '../../application/ports.js';

/** The storage name of a projection's shadow while it is rebuilt. */
export const shadowOf = (name: string): string => `${name}~rebuild`;

const CHUNK = 1000;

/** ProjectionTransaction on one open transaction (the inbox's, or the rebuild swap's). */
export class PgProjectionTransaction implements ProjectionTransaction {
  constructor(private readonly tx: SqlExecutor) {}

  async claim(storage: string, eventId: string): Promise<boolean> {
    const { rows } = await this.tx.query(
      'INSERT INTO ops_applied (projection, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1 AS claimed',
      [storage, eventId],
    );
    return rows.length === 1;
  }

  async loadEntity(storage: string, key: string): Promise<Doc | undefined> {
    // A row lock cannot cover an entity that does not exist yet (two first events of one booking
    // would both start from nothing): a transaction-scoped advisory lock on the key serialises them.
    await this.tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`${storage}|${key}`]);
    const { rows } = await this.tx.query<{ doc: Doc }>('SELECT doc FROM ops_entities WHERE projection = $1 AND key = $2 FOR UPDATE', [
      storage,
      key,
    ]);
    return rows[0]?.doc;
  }

  async saveEntity(storage: string, key: string, doc: Doc, indexes: readonly IndexEntry[]): Promise<number> {
    const { rows } = await this.tx.query<{ version: string }>(
      `INSERT INTO ops_entities (projection, key, doc, version) VALUES ($1, $2, $3::jsonb, nextval('ops_version_seq'))
       ON CONFLICT (projection, key) DO UPDATE SET doc = EXCLUDED.doc, version = nextval('ops_version_seq')
       RETURNING version::text AS version`,
      [storage, key, JSON.stringify(doc)],
    );
    await this.tx.query('DELETE FROM ops_index WHERE projection = $1 AND key = $2', [storage, key]);
    for (const ix of indexes)
      await this.tx.query('INSERT INTO ops_index (projection, index_name, key, score) VALUES ($1, $2, $3, $4)', [
        storage,
        ix.index,
        key,
        ix.score,
      ]);
    return Number(rows[0]!.version);
  }

  async addToCounters(storage: string, deltas: readonly CounterContribution[]): Promise<CounterRow[]> {
    // One statement, rows taken in the order given (sorted by key and field: the lock order). The
    // version of an updated row is drawn in the update, after its row lock is held: a transaction
    // that waited for another's lock gets the higher version, so the live store keeps its copy.
    const { rows } = await this.tx.query<{ key: string; field: string; value: string; version: string }>(
      `INSERT INTO ops_counters (projection, key, field, value, version)
       SELECT $1, d.key, d.field, d.delta, nextval('ops_version_seq')
         FROM unnest($2::text[], $3::text[], $4::bigint[]) WITH ORDINALITY AS d(key, field, delta, n) ORDER BY d.n
       ON CONFLICT (projection, key, field) DO UPDATE SET value = ops_counters.value + EXCLUDED.value, version = nextval('ops_version_seq')
       RETURNING key, field, value::text AS value, version::text AS version`,
      [storage, deltas.map((d) => d.key), deltas.map((d) => d.field), deltas.map((d) => d.value)],
    );
    return rows.map((r) => ({ key: r.key, field: r.field, value: Number(r.value), version: Number(r.version) }));
  }
}

export class PgProjectionStore implements ProjectionReader {
  constructor(private readonly db: SqlDatabase) {}

  /** Creates the control row of each projection (its lock). */
  async ensure(projections: readonly Projection[]): Promise<void> {
    for (const p of projections)
      await this.db.query('INSERT INTO ops_projections (projection) VALUES ($1) ON CONFLICT DO NOTHING', [p.name]);
  }

  /**
   * Applies a live event to every projection that handles it, in `tx` (the inbox transaction): the
   * event goes to the journal once, each projection's control row is share-locked (a rebuild's swap
   * waits for us, we wait for it), and the changed rows come back per projection.
   */
  async applyLive(tx: SqlTransaction, projections: readonly Projection[], event: AlbergueEvent): Promise<Map<Projection, RowChanges>> {
    await tx.query(
      'INSERT INTO ops_journal (event_id, event_type, envelope) VALUES ($1, $2, $3::jsonb) ON CONFLICT (event_id) DO NOTHING',
      [event.event_id, event.event_type, JSON.stringify(event)],
    );
    const changed = new Map<Projection, RowChanges>();
    const writer = new PgProjectionTransaction(tx);
    for (const p of projections) {
      if (!handles(p, event.event_type)) continue;
      await tx.query('SELECT 1 FROM ops_projections WHERE projection = $1 FOR SHARE', [p.name]);
      const rows = await applyEvent(writer, p, p.name, event);
      if (rows) changed.set(p, rows);
    }
    return changed;
  }

  // ── rebuild ──────────────────────────────────────────────────────────────────────────────────

  /** Fills the shadow storage with a folded projection (any earlier shadow is dropped first). */
  async writeShadow(p: Projection, state: ProjectionState, appliedEventIds: readonly string[]): Promise<void> {
    const shadow = shadowOf(p.name);
    await this.db.transaction(async (tx) => {
      await deleteStorage(tx, shadow);
      const entities = [...state.entities];
      for (let i = 0; i < entities.length; i += CHUNK) {
        const part = entities.slice(i, i + CHUNK);
        await tx.query(
          `INSERT INTO ops_entities (projection, key, doc, version)
           SELECT $1, k, d::jsonb, nextval('ops_version_seq') FROM unnest($2::text[], $3::text[]) AS u(k, d)`,
          [shadow, part.map(([k]) => k), part.map(([, d]) => JSON.stringify(d))],
        );
        const ix = part.flatMap(([k, d]) => p.contributions(k, d).indexes.map((e) => ({ key: k, ...e })));
        if (ix.length > 0)
          await tx.query(
            `INSERT INTO ops_index (projection, index_name, key, score)
             SELECT $1, i, k, s FROM unnest($2::text[], $3::text[], $4::float8[]) AS u(i, k, s)`,
            [shadow, ix.map((e) => e.index), ix.map((e) => e.key), ix.map((e) => e.score)],
          );
      }
      const counters = [...state.counters].flatMap(([key, fields]) => [...fields].map(([field, value]) => ({ key, field, value })));
      for (let i = 0; i < counters.length; i += CHUNK) {
        const part = counters.slice(i, i + CHUNK);
        await tx.query(
          `INSERT INTO ops_counters (projection, key, field, value, version)
           SELECT $1, k, f, v, nextval('ops_version_seq') FROM unnest($2::text[], $3::text[], $4::bigint[]) AS u(k, f, v)`,
          [shadow, part.map((c) => c.key), part.map((c) => c.field), part.map((c) => c.value)],
        );
      }
      for (let i = 0; i < appliedEventIds.length; i += CHUNK * 10)
        await tx.query(
          'INSERT INTO ops_applied (projection, event_id) SELECT $1, e FROM unnest($2::text[]) AS u(e) ON CONFLICT DO NOTHING',
          [shadow, appliedEventIds.slice(i, i + CHUNK * 10)],
        );
    });
  }

  /**
   * Swaps the shadow in, in one transaction: waits for the handlers running on the projection (and
   * holds new ones), applies to the shadow the journal's events it lacks (received live while the
   * rebuild read the history), replaces the projection's rows with the shadow's. Returns how many
   * journal events it caught up.
   */
  async swapShadow(p: Projection, rebuiltEvents: number): Promise<number> {
    const shadow = shadowOf(p.name);
    return this.db.transaction(async (tx) => {
      await tx.query('SELECT 1 FROM ops_projections WHERE projection = $1 FOR UPDATE', [p.name]);
      const { rows } = await tx.query<{ envelope: AlbergueEvent }>(
        `SELECT j.envelope FROM ops_journal j
          WHERE j.event_type = ANY($1::text[])
            AND NOT EXISTS (SELECT 1 FROM ops_applied a WHERE a.projection = $2 AND a.event_id = j.event_id)
          ORDER BY j.received_at, j.event_id`,
        [p.events.map((d) => d.name), shadow],
      );
      const writer = new PgProjectionTransaction(tx);
      for (const r of rows) await applyEvent(writer, p, shadow, r.envelope);
      await deleteStorage(tx, p.name);
      for (const table of ['ops_entities', 'ops_counters', 'ops_applied', 'ops_index'])
        await tx.query(`UPDATE ${table} SET projection = $1 WHERE projection = $2`, [p.name, shadow]);
      await tx.query('UPDATE ops_projections SET epoch = epoch + 1, rebuilt_at = now(), rebuilt_events = $2 WHERE projection = $1', [
        p.name,
        rebuiltEvents + rows.length,
      ]);
      return rows.length;
    });
  }

  /** The rebuild epoch of each projection. */
  async epochs(): Promise<Map<string, number>> {
    const { rows } = await this.db.query<{ projection: string; epoch: string }>(
      'SELECT projection, epoch::text AS epoch FROM ops_projections',
    );
    return new Map(rows.map((r) => [r.projection, Number(r.epoch)]));
  }

  /** Every row of the projection, to copy into the live store, with the epoch read first. */
  async snapshot(p: Projection): Promise<Snapshot> {
    const epoch = (await this.epochs()).get(p.name) ?? 0;
    const e = await this.db.query<{ key: string; doc: Doc; version: string }>(
      'SELECT key, doc, version::text AS version FROM ops_entities WHERE projection = $1',
      [p.name],
    );
    const c = await this.db.query<{ key: string; field: string; value: string; version: string }>(
      'SELECT key, field, value::text AS value, version::text AS version FROM ops_counters WHERE projection = $1',
      [p.name],
    );
    const entities: EntityRow[] = e.rows.map((r) => ({
      key: r.key,
      doc: r.doc,
      version: Number(r.version),
      indexes: p.contributions(r.key, r.doc).indexes,
    }));
    const counters: CounterRow[] = c.rows.map((r) => ({ key: r.key, field: r.field, value: Number(r.value), version: Number(r.version) }));
    return { entities, counters, epoch };
  }

  /** Control rows: when each projection was last rebuilt and from how many events. */
  async status(): Promise<{ projection: string; rebuilt_at: string | null; rebuilt_events: number | null }[]> {
    const { rows } = await this.db.query<{ projection: string; rebuilt_at: Date | null; rebuilt_events: string | null }>(
      'SELECT projection, rebuilt_at, rebuilt_events::text AS rebuilt_events FROM ops_projections ORDER BY projection',
    );
    return rows.map((r) => ({
      projection: r.projection,
      rebuilt_at: r.rebuilt_at ? new Date(r.rebuilt_at).toISOString() : null,
      rebuilt_events: r.rebuilt_events === null ? null : Number(r.rebuilt_events),
    }));
  }

  // ── ProjectionReader (admin reports) ───────────────────────────────────────────────────────

  async entities(projection: string, keys: readonly string[]): Promise<(Doc | undefined)[]> {
    if (keys.length === 0) return [];
    const { rows } = await this.db.query<{ key: string; doc: Doc }>(
      'SELECT key, doc FROM ops_entities WHERE projection = $1 AND key = ANY($2::text[])',
      [projection, [...keys]],
    );
    const byKey = new Map(rows.map((r) => [r.key, r.doc]));
    return keys.map((k) => byKey.get(k));
  }

  async counters(projection: string, key: string): Promise<Record<string, number>> {
    const { rows } = await this.db.query<{ field: string; value: string }>(
      'SELECT field, value::text AS value FROM ops_counters WHERE projection = $1 AND key = $2 AND value <> 0',
      [projection, key],
    );
    return Object.fromEntries(rows.map((r) => [r.field, Number(r.value)]));
  }

  async counterKeys(projection: string): Promise<string[]> {
    const { rows } = await this.db.query<{ key: string }>('SELECT DISTINCT key FROM ops_counters WHERE projection = $1 ORDER BY key', [
      projection,
    ]);
    return rows.map((r) => r.key);
  }

  async indexRange(
    projection: string,
    index: string,
    limit: number,
  ): Promise<{ members: { key: string; score: number }[]; total: number }> {
    const { rows } = await this.db.query<{ key: string; score: number }>(
      'SELECT key, score FROM ops_index WHERE projection = $1 AND index_name = $2 ORDER BY score, key LIMIT $3',
      [projection, index, limit],
    );
    const total = await this.db.query<{ n: string }>(
      'SELECT count(*)::text AS n FROM ops_index WHERE projection = $1 AND index_name = $2',
      [projection, index],
    );
    return { members: rows.map((r) => ({ key: r.key, score: Number(r.score) })), total: Number(total.rows[0]!.n) };
  }

  async dump(projection: string): Promise<ProjectionState> {
    const e = await this.db.query<{ key: string; doc: Doc }>('SELECT key, doc FROM ops_entities WHERE projection = $1', [projection]);
    const c = await this.db.query<{ key: string; field: string; value: string }>(
      'SELECT key, field, value::text AS value FROM ops_counters WHERE projection = $1 AND value <> 0',
      [projection],
    );
    const counters = new Map<string, Map<string, number>>();
    for (const r of c.rows) {
      const fields = counters.get(r.key) ?? new Map<string, number>();
      fields.set(r.field, Number(r.value));
      counters.set(r.key, fields);
    }
    return { entities: new Map(e.rows.map((r) => [r.key, r.doc])), counters };
  }
}

async function deleteStorage(tx: SqlExecutor, storage: string): Promise<void> {
  for (const table of ['ops_entities', 'ops_counters', 'ops_applied', 'ops_index'])
    await tx.query(`DELETE FROM ${table} WHERE projection = $1`, [storage]);
}
