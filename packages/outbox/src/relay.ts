import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { toMqttTopic } from '@albergue/events';
import type { Logger } from '@albergue/platform';
import type { Registry } from 'prom-client';
import type { SqlDatabase, SqlExecutor } from './db/port.js';
import type { OutboxMetrics } from './metrics.js';
import { outboxMetrics } from './metrics.js';
import { OUTBOX_NOTIFY_CHANNEL } from './migrations/sql.js';
import type { OutboxTransport } from './transport.js';

export interface OutboxRelayOptions {
  /** Names this relay in `claimed_by` of the leases it writes (default host-pid-random). */
  readonly relayId?: string;
  /** Rows claimed per cycle (default 500). */
  readonly batchSize?: number;
  /**
   * Oldest unpublished rows examined per claim at most (default 8 × batchSize; the running relay
   * looks at batchSize × (pipeline + 1) while its claims come back full). Rows claimed by other relays
   * (or by this relay's earlier batches still in the pipeline) and rows waiting behind a failed row
   * count against it: raise it for many relays or long stuck queues.
   */
  readonly scanWindow?: number;
  /** Independent claim loops run by this relay (default 1). */
  readonly concurrency?: number;
  /**
   * Batches each loop keeps claimed and not yet settled (default 3): the next batch is claimed while
   * earlier ones are being published and marked, so the broker connection does not wait for the
   * database. 1 = claim → publish → mark, one batch at a time. On Postgres each of these batches holds
   * a pooled connection (its transaction) while it is published: size the pool for
   * concurrency × pipeline plus the application's own use.
   */
  readonly pipeline?: number;
  /**
   * How long a relay may hold claimed rows before another relay can take them (default 30 s): the
   * lease of a `runOnce`/PGlite claim, and on Postgres the `idle_in_transaction_session_timeout` of the
   * transaction that holds a batch's row locks while it is published.
   */
  readonly leaseMs?: number;
  /** Polling fallback when no NOTIFY arrives (default 1000 ms). */
  readonly pollIntervalMs?: number;
  /** Relay backoff after a failed cycle (broker or database unreachable): doubles from min to max. */
  readonly backoffMinMs?: number;
  readonly backoffMaxMs?: number;
  /** A row whose publish failed waits min(max, min·2^attempts) before it is tried again. */
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
  readonly metrics?: Registry;
  readonly logger?: Logger;
}

type ClaimedRow = {
  id: string;
  event_id: string;
  topic: string;
  aggregate_type: string;
  aggregate_id: string;
  body: string;
};

export interface CycleReport {
  readonly claimed: number;
  readonly published: number;
  readonly failed: number;
  /** Claimed but not attempted: an earlier row of the same aggregate failed. */
  readonly heldBack: number;
}

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

/** Claim with a committed lease (exported for the plan tests; not part of the package API) (`claimed_by` = `$3`, for `$4` ms): `runOnce`, and every claim on PGlite. */
export const LEASE_CLAIM_SQL = `${CLAIM_CTES}
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

/** What publishing one claimed batch came to. */
interface Delivery {
  readonly published: ClaimedRow[];
  readonly failed: { row: ClaimedRow; error: Error }[];
  readonly heldBack: ClaimedRow[];
}

const NOTHING: CycleReport = { claimed: 0, published: 0, failed: 0, heldBack: 0 };

/** A cycle of the loop; calls `claimed` with the number of rows once its claim is done. */
type Cycle = (claimed: (rows: number) => void, window: number) => Promise<CycleReport>;

/**
 * Moves committed outbox rows to the broker.
 *
 * - At least once: a row is marked published only after the broker acknowledged it; a crash in
 *   between republishes it (once its claim lapses). Consumers dedupe by event_id.
 * - Order: per aggregate, rows go out in id order, and row n+1 is sent only after row n was
 *   acknowledged; a failed row holds back its aggregate's later rows until it succeeds.
 * - Claims (`FOR UPDATE SKIP LOCKED`): on Postgres the loop keeps each batch's row locks in a
 *   transaction while it is published and marked (a relay that dies releases them at once; one that
 *   hangs loses them after `leaseMs`); `runOnce`, and every claim on PGlite, writes a lease
 *   (`claimed_by`, `claimed_until`) instead. Both kinds exclude each other and keep the prefix rule,
 *   so several relays (or `concurrency` > 1) share a Postgres database safely. On PGlite run one relay
 *   (one session; see README).
 * - Pipelined: each loop claims its next batch while earlier ones are published and marked
 *   (`pipeline` batches at most). A batch never takes a row whose earlier row is in an unsettled
 *   batch: that row is locked or leased, and the claim leaves the rows behind it alone.
 * - Wakes on NOTIFY from committed inserts, polls as a fallback, backs off while publishing or the
 *   database fails.
 */
export class OutboxRelay {
  readonly relayId: string;
  private readonly batchSize: number;
  private readonly concurrency: number;
  private readonly pipeline: number;
  private readonly scanWindow: number;
  private readonly leaseMs: number;
  private readonly pollIntervalMs: number;
  private readonly backoffMinMs: number;
  private readonly backoffMaxMs: number;
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;
  private readonly metrics: OutboxMetrics | undefined;
  private readonly logger: Logger | undefined;
  private readonly mqttTopics = new Map<string, string>();
  private running = false;
  private notified = false;
  private loops: Promise<void>[] = [];
  private readonly sleepers = new Set<() => void>();
  private unlisten: (() => Promise<void>) | undefined;

  constructor(private readonly db: SqlDatabase, private readonly transport: OutboxTransport, options: OutboxRelayOptions = {}) {
    this.relayId = options.relayId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.batchSize = positive(options.batchSize ?? 500, 'batchSize');
    this.scanWindow = Math.max(this.batchSize, options.scanWindow ?? 8 * this.batchSize);
    this.concurrency = positive(options.concurrency ?? 1, 'concurrency');
    this.pipeline = positive(options.pipeline ?? 3, 'pipeline');
    this.leaseMs = positive(options.leaseMs ?? 30_000, 'leaseMs');
    this.pollIntervalMs = positive(options.pollIntervalMs ?? 1000, 'pollIntervalMs');
    this.backoffMinMs = positive(options.backoffMinMs ?? 100, 'backoffMinMs');
    this.backoffMaxMs = Math.max(this.backoffMinMs, options.backoffMaxMs ?? 5000);
    this.retryMinMs = positive(options.retryMinMs ?? 100, 'retryMinMs');
    this.retryMaxMs = Math.max(this.retryMinMs, options.retryMaxMs ?? 5000);
    this.metrics = options.metrics ? outboxMetrics(options.metrics, db) : undefined;
    this.logger = options.logger?.child({ relay: this.relayId });
  }

  /** Starts listening and relaying; resolves once started. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      this.unlisten = await this.db.listen(OUTBOX_NOTIFY_CHANNEL, () => this.wake());
    } catch (err) {
      this.logger?.warn({ err }, 'LISTEN failed; relying on polling');
    }
    this.loops = Array.from({ length: this.concurrency }, () => this.loop());
  }

  /** Stops after the cycles in progress finish (their rows are marked); resolves when stopped. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const wake of [...this.sleepers]) wake();
    await Promise.all(this.loops);
    this.loops = [];
    const unlisten = this.unlisten;
    this.unlisten = undefined;
    if (unlisten) await unlisten().catch(() => undefined);
  }

  /** One claim (with a lease) → publish → mark cycle; handy in tests and scripts. */
  runOnce(): Promise<CycleReport> {
    return this.leasedCycle(() => undefined);
  }

  private async leasedCycle(claimed: (rows: number) => void, window = this.scanWindow): Promise<CycleReport> {
    const result = await this.db.query<ClaimedRow>(LEASE_CLAIM_SQL, [this.batchSize, window, this.relayId, this.leaseMs]);
    const rows = result.rows;
    claimed(rows.length);
    if (rows.length === 0) return NOTHING;
    const delivery = await this.deliver(rows);
    await this.settle(this.db, delivery, true);
    return report(rows, delivery);
  }

  /** Claims, publishes and marks in one transaction that holds the batch's row locks (Postgres). */
  private async lockedCycle(claimed: (rows: number) => void, window: number): Promise<CycleReport> {
    let delivery: Delivery | undefined;
    try {
      return await this.db.transaction(async (tx) => {
        // A relay that hangs mid-batch must not keep its rows for ever: Postgres ends the session.
        await tx.query(`SELECT set_config('idle_in_transaction_session_timeout', $1, true)`, [String(Math.ceil(this.leaseMs))]);
        const rows = (await tx.query<ClaimedRow>(LOCK_CLAIM_SQL, [this.batchSize, window])).rows;
        claimed(rows.length);
        if (rows.length === 0) return NOTHING;
        delivery = await this.deliver(rows);
        await this.settle(tx, delivery, false);
        return report(rows, delivery);
      });
    } catch (err) {
      // The locks are gone (session ended, commit failed): what the broker acknowledged is published
      // all the same. Another relay may have republished it meanwhile — a duplicate, never a loss.
      if (delivery && delivery.published.length > 0) {
        await this.db.query(MARK_LOCKED_PUBLISHED_SQL, [delivery.published.map((r) => r.id)]).catch((markErr: unknown) => {
          this.logger?.warn({ err: markErr }, 'could not mark published rows after the batch transaction failed');
        });
      }
      throw err;
    }
  }

  /** Publishes a claimed batch in waves: an aggregate's next row leaves after its previous one's PUBACK. */
  private async deliver(rows: ClaimedRow[]): Promise<Delivery> {
    const byAggregate = new Map<string, ClaimedRow[]>();
    for (const row of rows.sort(byId)) {
      const key = `${row.aggregate_type}\u0000${row.aggregate_id}`;
      const list = byAggregate.get(key);
      if (list) list.push(row);
      else byAggregate.set(key, [row]);
    }
    const published: ClaimedRow[] = [];
    const failed: { row: ClaimedRow; error: Error }[] = [];
    const heldBack: ClaimedRow[] = [];
    // Wave k sends the k-th row of every aggregate still in good standing, so an aggregate's next
    // row leaves only after its previous one was acknowledged.
    let live = [...byAggregate.values()];
    for (let k = 0; live.length > 0; k++) {
      const wave = live.map((rows) => rows[k]!);
      const results = await this.transport.publish(wave.map((r) => ({ topic: this.mqttTopic(r.topic), body: r.body, eventId: r.event_id })));
      const next: ClaimedRow[][] = [];
      live.forEach((rows, i) => {
        const result = results[i];
        const row = wave[i]!;
        if (result?.ok) {
          published.push(row);
          if (rows.length > k + 1) next.push(rows);
        } else {
          failed.push({ row, error: result?.error ?? new Error('transport returned no result') });
          heldBack.push(...rows.slice(k + 1));
        }
      });
      live = next;
    }
    return { published, failed, heldBack };
  }

  /** Marks the batch; `leased` rows held back get their lease released (locked ones just unlock). */
  private async settle(sql: SqlExecutor, { published, failed, heldBack }: Delivery, leased: boolean): Promise<void> {
    if (published.length > 0) await sql.query(leased ? MARK_PUBLISHED_SQL : MARK_LOCKED_PUBLISHED_SQL, [published.map((r) => r.id)]);
    if (failed.length > 0) {
      await sql.query(MARK_FAILED_SQL, [
        failed.map((f) => f.row.id), failed.map((f) => f.error.message.slice(0, 1000)), this.retryMaxMs, this.retryMinMs,
      ]);
    }
    if (leased && heldBack.length > 0) await sql.query(RELEASE_SQL, [heldBack.map((r) => r.id)]);
    if (this.metrics && published.length > 0) {
      const perTopic = new Map<string, number>();
      for (const r of published) perTopic.set(r.topic, (perTopic.get(r.topic) ?? 0) + 1);
      for (const [topic, n] of perTopic) this.metrics.published.inc({ topic }, n);
    }
  }

  private mqttTopic(topic: string): string {
    let mqtt = this.mqttTopics.get(topic);
    if (mqtt === undefined) {
      mqtt = toMqttTopic(topic);
      if (this.mqttTopics.size < 10_000) this.mqttTopics.set(topic, mqtt);
    }
    return mqtt;
  }

  /**
   * Starts a cycle as soon as the previous one's claim is done, while fewer than `pipeline` cycles
   * are unfinished. A failed cycle (publish refused, database error) makes the loop wait for its
   * other cycles, then back off.
   */
  private async loop(): Promise<void> {
    const cycle: Cycle = this.db.driver === 'pg' ? (c, w) => this.lockedCycle(c, w) : (c, w) => this.leasedCycle(c, w);
    // A claim reads `window` rows: room for this loop's unfinished batches and one more. After a claim
    // that came back short (other relays' rows at the head, rows stuck behind a failure, or just the
    // end of the backlog) the next one reads the whole scanWindow.
    const small = Math.min(this.scanWindow, this.batchSize * (this.pipeline + 1));
    let window = small;
    let backoff = this.backoffMinMs;
    let trouble: { err?: unknown; report?: CycleReport } | undefined;
    const cycles = new Set<Promise<void>>();
    while (this.running) {
      if (cycles.size >= this.pipeline) {
        await Promise.race(cycles);
        continue;
      }
      if (trouble) {
        await Promise.all(cycles);
        if (trouble.err !== undefined) this.logger?.warn({ err: trouble.err, backoffMs: backoff }, 'outbox relay cycle failed');
        else this.logger?.warn({ ...trouble.report, backoffMs: backoff }, 'publishing failed; backing off');
        trouble = undefined;
        await this.sleep(backoff, false);
        backoff = Math.min(this.backoffMaxMs, backoff * 2);
        continue;
      }
      this.notified = false;
      let onClaimed: (rows: number) => void = () => undefined;
      const claimed = new Promise<number>((resolve) => { onClaimed = resolve; });
      const running: Promise<void> = cycle((rows) => {
        window = rows >= this.batchSize ? small : this.scanWindow;
        onClaimed(rows);
      }, window).then(
        (r) => {
          if (r.failed > 0) trouble ??= { report: r };
          else if (r.claimed > 0 && !trouble) backoff = this.backoffMinMs;
        },
        (err: unknown) => { trouble ??= { err }; },
      ).finally(() => {
        cycles.delete(running);
        onClaimed(-1); // the cycle failed before its claim finished
      });
      cycles.add(running);
      if ((await claimed) > 0) continue;
      await running; // nothing claimed (or the claim failed): this cycle is ending
      if (trouble) continue;
      // Nothing claimable. Rows behind this loop's own unfinished batches free up when they finish;
      // rows held behind another relay's claim free up without a NOTIFY (the poll finds them).
      if (cycles.size > 0) await Promise.race(cycles);
      else if (!this.notified) await this.sleep(this.pollIntervalMs, true);
    }
    await Promise.all(cycles);
  }

  private wake(): void {
    this.notified = true;
    for (const wake of [...this.sleepers]) wake();
  }

  /** Sleeps `ms`; `stop()` always ends it, a NOTIFY only when `wakeable`. */
  private sleep(ms: number, wakeable: boolean): Promise<void> {
    if (!this.running) return Promise.resolve(); // stop() came while a cycle was running
    return new Promise<void>((resolve) => {
      const waker = (): void => { if (wakeable || !this.running) done(); };
      const done = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(waker);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.sleepers.add(waker);
    });
  }
}

function report(rows: ClaimedRow[], d: Delivery): CycleReport {
  return { claimed: rows.length, published: d.published.length, failed: d.failed.length, heldBack: d.heldBack.length };
}

function byId(a: ClaimedRow, b: ClaimedRow): number {
  return a.id.length - b.id.length || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function positive(n: number, name: string): number {
  if (!Number.isFinite(n) || n <= 0) throw new RangeError(`OutboxRelay: ${name} must be a positive number, got ${n}`);
  return n;
}
