// The relay's SQL, one job: which outbox rows a batch takes (the claim), and how the outcome of
// publishing them is written back. The loop that runs it lives in relay.ts, publishing in deliver.ts.
import type { SqlExecutor } from './db/port.js';
import type { Delivery } from './deliver.js';

/** An outbox row claimed for publishing. */
export type ClaimedRow = {
  id: string;
  event_id: string;
  topic: string;
  aggregate_type: string;
  aggregate_id: string;
  body: string;
};

/**
 * Picks and locks a batch (`$1` rows at most): rows whose every earlier unpublished row of the same
 * aggregate is locked by this same statement, so a batch takes a prefix of each aggregate. It works
 * on `head`, the oldest `$2` unpublished rows: every earlier unpublished row of a row in `head` is in
 * `head` too, so the per-aggregate checks are hashed look-ups within it, with no per-row probes.
 *  - `ready`: rows of aggregates with no leased or backing-off row in `head` (such a row has no
 *    claimable row before it: the rows before it are published or claimed with it);
 *  - `locked`: the first `$1` of those still claimable, locked with SKIP LOCKED (another relay, or
 *    another batch of this one, may hold some; rechecked on the latest row version);
 *  - `skipped`: ready rows the lock passed over (held by another transaction, or changed since the
 *    snapshot); `valid`: locked rows with no skipped row before them in their aggregate — hashed
 *    look-ups, plus a sort of the few rows of aggregates that have both.
 * Written to keep one plan, bounded by `$2`, whatever the statistics say. The planner's count of
 * unpublished rows is usually stale (analysed while the outbox was drained, or never): the previous
 * claim then sorted the whole backlog on every call (~60–200 ms per 500 rows on a 50,000-row
 * backlog) or, with statistics from a drained outbox, scanned a "tiny" partial index in full per row
 * (seconds per claim). Here the LIMITs are sub-selects (the planner plans a fast start: the ordered
 * index scan), the lock looks rows up by primary key, its `published_at` recheck is spelt so that the
 * partial indexes do not apply there, and the set operations are hashed sub-plans (NOT IN is never
 * turned into a join). NOT IN is safe: these columns are NOT NULL.
 */
const CLAIM_CTES = `
WITH head AS MATERIALIZED (
  SELECT id, aggregate_type, aggregate_id,
         coalesce(claimed_until >= now(), false) OR available_at > now() AS blocked
    FROM outbox_events
   WHERE published_at IS NULL
   ORDER BY id
   LIMIT (SELECT $2::int)
), ready AS MATERIALIZED (
  SELECT id, aggregate_type, aggregate_id FROM head
   WHERE (aggregate_type, aggregate_id) NOT IN (SELECT aggregate_type, aggregate_id FROM head WHERE blocked)
), locked AS MATERIALIZED (
  SELECT o.id, o.aggregate_type, o.aggregate_id FROM outbox_events o
   WHERE o.id = ANY (ARRAY(SELECT id FROM ready))
     AND coalesce(o.published_at, '-infinity') = '-infinity'
     AND coalesce(o.claimed_until < now(), true)
     AND o.available_at <= now()
   ORDER BY o.id
   LIMIT (SELECT $1::int)
   FOR UPDATE OF o SKIP LOCKED
), skipped AS MATERIALIZED (
  SELECT id, aggregate_type, aggregate_id FROM ready
   WHERE id < (SELECT max(id) FROM locked) AND id NOT IN (SELECT id FROM locked)
), contest AS MATERIALIZED (
  SELECT id, aggregate_type, aggregate_id, mine,
         (aggregate_type, aggregate_id) IN (SELECT aggregate_type, aggregate_id FROM skipped)
           AND (aggregate_type, aggregate_id) IN (SELECT aggregate_type, aggregate_id FROM locked) AS contested
    FROM (SELECT id, aggregate_type, aggregate_id, true AS mine FROM locked
          UNION ALL
          SELECT id, aggregate_type, aggregate_id, false FROM skipped) r
), valid AS (
  SELECT id FROM contest WHERE mine AND NOT contested
  UNION ALL
  SELECT id FROM (
    SELECT id, mine, bool_and(mine) OVER (PARTITION BY aggregate_type, aggregate_id ORDER BY id) AS prefix_ok
      FROM contest
     WHERE contested
  ) c
   WHERE mine AND prefix_ok
)`;

const RETURNED = `o.id::text AS id, o.event_id::text AS event_id, o.topic, o.aggregate_type, o.aggregate_id,
       o.envelope::text AS body`;

/** Claim with a committed lease (`claimed_by` = `$3`, for `$4` ms): `runOnce`, and every claim on PGlite. */
const LEASE_CLAIM_SQL = `${CLAIM_CTES}
UPDATE outbox_events o
   SET claimed_by = $3, claimed_until = now() + $4 * interval '1 millisecond'
 WHERE o.id = ANY (ARRAY(SELECT id FROM valid))
RETURNING ${RETURNED}`;

/**
 * Claim inside a transaction that keeps the row locks while the batch is published and marked (the
 * relay loop on Postgres). No lease is written: one row version per event (the mark) instead of two,
 * which measured ~40% less Postgres CPU per event. Rows that `locked` took but `valid` rejected stay
 * locked, unpublished, until the transaction ends.
 */
export const LOCK_CLAIM_SQL = `${CLAIM_CTES}
SELECT ${RETURNED}
  FROM outbox_events o
 WHERE o.id = ANY (ARRAY(SELECT id FROM valid))`;

const MARK_PUBLISHED_SQL = `
UPDATE outbox_events SET published_at = now(), claimed_by = NULL, claimed_until = NULL
 WHERE id = ANY($1::bigint[])`;

/**
 * The mark of a locked batch: its rows carry no lease to clear (one taken by another relay and left
 * to expire stays on the row as a record). Setting only `published_at` measured ~30% less Postgres
 * CPU than clearing the lease columns too.
 */
const MARK_LOCKED_PUBLISHED_SQL = `
UPDATE outbox_events SET published_at = now() WHERE id = ANY($1::bigint[])`;

const MARK_FAILED_SQL = `
UPDATE outbox_events o
   SET attempts = o.attempts + 1, last_error = f.error, claimed_by = NULL, claimed_until = NULL,
       available_at = now() + least($3::float8, $4::float8 * power(2, o.attempts)) * interval '1 millisecond'
  FROM unnest($1::bigint[], $2::text[]) AS f(id, error)
 WHERE o.id = f.id AND o.published_at IS NULL`;

const RELEASE_SQL = `
UPDATE outbox_events SET claimed_by = NULL, claimed_until = NULL
 WHERE id = ANY($1::bigint[]) AND published_at IS NULL`;

/** Claims up to `batchSize` rows among the oldest `window` and writes a lease on them (`claimed_by`, for `leaseMs`). */
export async function claimWithLease(
  sql: SqlExecutor,
  batchSize: number,
  window: number,
  relayId: string,
  leaseMs: number,
): Promise<ClaimedRow[]> {
  return (await sql.query<ClaimedRow>(LEASE_CLAIM_SQL, [batchSize, window, relayId, leaseMs])).rows;
}

/**
 * Claims up to `batchSize` rows among the oldest `window` by locking them in `tx`, which keeps the
 * locks until it ends; a relay that hangs mid-batch loses them after `leaseMs` (Postgres ends the session).
 */
export async function claimLocked(tx: SqlExecutor, batchSize: number, window: number, leaseMs: number): Promise<ClaimedRow[]> {
  await tx.query(`SELECT set_config('idle_in_transaction_session_timeout', $1, true)`, [String(Math.ceil(leaseMs))]);
  return (await tx.query<ClaimedRow>(LOCK_CLAIM_SQL, [batchSize, window])).rows;
}

/**
 * Delete-on-publish: the rows leave `outbox_events`, and a slim record of each (no envelope; the table
 * has no index) goes to `outbox_published`. A delete writes no new row version and no index entry:
 * ~30% less Postgres CPU per relayed event than the mark (docs/performance.md).
 */
const MOVE_PUBLISHED_SQL = `
WITH moved AS (
  DELETE FROM outbox_events WHERE id = ANY($1::bigint[])
  RETURNING id, event_id, topic, aggregate_type, aggregate_id, created_at, attempts
)
INSERT INTO outbox_published (id, event_id, topic, aggregate_type, aggregate_id, created_at, attempts)
SELECT id, event_id, topic, aggregate_type, aggregate_id, created_at, attempts FROM moved`;

/**
 * What happens to a published row: `mark` sets its `published_at` and keeps it in `outbox_events`
 * (with its envelope, for whoever inspects published events there); `move` deletes it and records
 * it, without its envelope, in `outbox_published`.
 */
export type PublishedRows = 'mark' | 'move';

/** Marks locked rows published (also after their transaction was lost: what the broker took is published). */
export async function markLockedPublished(sql: SqlExecutor, rows: readonly ClaimedRow[], mode: PublishedRows): Promise<void> {
  await sql.query(mode === 'move' ? MOVE_PUBLISHED_SQL : MARK_LOCKED_PUBLISHED_SQL, [rows.map((r) => r.id)]);
}

/** When a row whose publish failed is tried again: min(maxMs, minMs·2^attempts) later. */
export interface RetryBackoff {
  readonly minMs: number;
  readonly maxMs: number;
}

/**
 * Writes a delivered batch back: published rows marked (or moved), failed ones scheduled for a retry with their
 * error, and — for a `leased` claim — the lease of rows held back released (locked ones just unlock).
 */
export async function settleBatch(
  sql: SqlExecutor,
  { published, failed, heldBack }: Delivery,
  leased: boolean,
  retry: RetryBackoff,
  mode: PublishedRows,
): Promise<void> {
  if (published.length > 0) {
    if (leased && mode === 'mark') await sql.query(MARK_PUBLISHED_SQL, [published.map((r) => r.id)]);
    else await markLockedPublished(sql, published, mode);
  }
  if (failed.length > 0) {
    await sql.query(MARK_FAILED_SQL, [
      failed.map((f) => f.row.id),
      failed.map((f) => f.error.message.slice(0, 1000)),
      retry.maxMs,
      retry.minMs,
    ]);
  }
  if (leased && heldBack.length > 0) await sql.query(RELEASE_SQL, [heldBack.map((r) => r.id)]);
}
