import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { toMqttTopic } from '@albergue/events';
import type { Logger } from '@albergue/platform';
import type { Registry } from 'prom-client';
import type { SqlDatabase } from './db/port';
import type { OutboxMetrics } from './metrics';
import { outboxMetrics } from './metrics';
import { OUTBOX_NOTIFY_CHANNEL } from './migrations/sql';
import type { OutboxTransport } from './transport';

export interface OutboxRelayOptions {
  /** Names this relay in `claimed_by` (default host-pid-random). */
  readonly relayId?: string;
  /** Rows claimed per cycle (default 500). */
  readonly batchSize?: number;
  /**
   * Oldest unpublished rows examined per claim (default 8 × batchSize). Rows leased by other relays
   * or waiting behind a failed row count against it: raise it for many relays or long stuck queues.
   */
  readonly scanWindow?: number;
  /** Claim cycles run at once by this relay (default 1); more overlaps database and broker time. */
  readonly concurrency?: number;
  /** A claim not finished within this time can be taken by another relay (default 30 s). */
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
 * Claims rows whose every earlier unpublished row of the same aggregate is claimable in this same
 * statement (so a batch takes a prefix of each aggregate), and leases them to `$2` until `$3` ms
 * from now. `head` looks only at the oldest `$4` unpublished rows, an index-ordered scan whatever
 * the (often stale) statistics of a fast-moving table say. The first NOT EXISTS keeps rows behind a
 * leased or backing-off row out of the batch; the second rejects rows whose earlier row was skipped
 * because another relay is claiming it at this moment (SKIP LOCKED).
 */
const CLAIM_SQL = `
WITH bound AS (
  SELECT max(id) AS id FROM (SELECT id FROM outbox_events WHERE published_at IS NULL ORDER BY id LIMIT (SELECT $4::int)) w
), candidates AS MATERIALIZED (
  SELECT o.id FROM outbox_events o
   WHERE o.published_at IS NULL
     AND o.id <= (SELECT id FROM bound)
     AND (o.claimed_until IS NULL OR o.claimed_until < now())
     AND o.available_at <= now()
     AND NOT EXISTS (
       SELECT 1 FROM outbox_events e
        WHERE e.aggregate_type = o.aggregate_type AND e.aggregate_id = o.aggregate_id
          AND e.id < o.id AND e.published_at IS NULL
          AND (e.claimed_until >= now() OR e.available_at > now()))
   ORDER BY o.id
   LIMIT (SELECT $1::int)
   FOR UPDATE OF o SKIP LOCKED
)
UPDATE outbox_events o
   SET claimed_by = $2, claimed_until = now() + $3 * interval '1 millisecond'
  FROM candidates c
 WHERE o.id = c.id
   AND NOT EXISTS (
     SELECT 1 FROM outbox_events e
      WHERE e.aggregate_type = o.aggregate_type AND e.aggregate_id = o.aggregate_id
        AND e.id < o.id AND e.published_at IS NULL
        AND e.id NOT IN (SELECT id FROM candidates))
RETURNING o.id::text AS id, o.event_id::text AS event_id, o.topic, o.aggregate_type, o.aggregate_id,
          o.envelope::text AS body`;

const MARK_PUBLISHED_SQL = `
UPDATE outbox_events SET published_at = now(), claimed_by = NULL, claimed_until = NULL
 WHERE id = ANY($1::bigint[])`;

const MARK_FAILED_SQL = `
UPDATE outbox_events o
   SET attempts = o.attempts + 1, last_error = f.error, claimed_by = NULL, claimed_until = NULL,
       available_at = now() + least($3::float8, $4::float8 * power(2, o.attempts)) * interval '1 millisecond'
  FROM unnest($1::bigint[], $2::text[]) AS f(id, error)
 WHERE o.id = f.id AND o.published_at IS NULL`;

const RELEASE_SQL = `
UPDATE outbox_events SET claimed_by = NULL, claimed_until = NULL
 WHERE id = ANY($1::bigint[]) AND published_at IS NULL`;

/**
 * Moves committed outbox rows to the broker.
 *
 * - At least once: a row is marked published only after the broker acknowledged it; a crash in
 *   between republishes it (after the lease expires). Consumers dedupe by event_id.
 * - Order: per aggregate, rows go out in id order, and row n+1 is sent only after row n was
 *   acknowledged; a failed row holds back its aggregate's later rows until it succeeds.
 * - Several relays (or `concurrency` > 1) on one Postgres database share the work through leases
 *   and `FOR UPDATE SKIP LOCKED`. On PGlite run one relay (one session; see README).
 * - Wakes on NOTIFY from committed inserts, polls as a fallback, backs off while publishing or the
 *   database fails.
 */
export class OutboxRelay {
  readonly relayId: string;
  private readonly batchSize: number;
  private readonly concurrency: number;
  private readonly scanWindow: number;
  private readonly leaseMs: number;
  private readonly pollIntervalMs: number;
  private readonly backoffMinMs: number;
  private readonly backoffMaxMs: number;
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;
  private readonly metrics: OutboxMetrics | undefined;
  private readonly logger: Logger | undefined;
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

  /** One claim → publish → mark cycle (used by the loop; handy in tests and scripts). */
  async runOnce(): Promise<CycleReport> {
    const claimed = await this.db.query<ClaimedRow>(CLAIM_SQL, [this.batchSize, this.relayId, this.leaseMs, this.scanWindow]);
    if (claimed.rows.length === 0) return { claimed: 0, published: 0, failed: 0, heldBack: 0 };
    const byAggregate = new Map<string, ClaimedRow[]>();
    for (const row of claimed.rows.sort(byId)) {
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
      const results = await this.transport.publish(wave.map((r) => ({ topic: toMqttTopic(r.topic), body: r.body, eventId: r.event_id })));
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
    await this.settle(published, failed, heldBack);
    return { claimed: claimed.rows.length, published: published.length, failed: failed.length, heldBack: heldBack.length };
  }

  private async settle(published: ClaimedRow[], failed: { row: ClaimedRow; error: Error }[], heldBack: ClaimedRow[]): Promise<void> {
    if (published.length > 0) {
      await this.db.query(MARK_PUBLISHED_SQL, [published.map((r) => r.id)]);
      if (this.metrics) {
        const perTopic = new Map<string, number>();
        for (const r of published) perTopic.set(r.topic, (perTopic.get(r.topic) ?? 0) + 1);
        for (const [topic, n] of perTopic) this.metrics.published.inc({ topic }, n);
      }
    }
    if (failed.length > 0) {
      await this.db.query(MARK_FAILED_SQL, [
        failed.map((f) => f.row.id), failed.map((f) => f.error.message.slice(0, 1000)), this.retryMaxMs, this.retryMinMs,
      ]);
    }
    if (heldBack.length > 0) await this.db.query(RELEASE_SQL, [heldBack.map((r) => r.id)]);
  }

  private async loop(): Promise<void> {
    let backoff = this.backoffMinMs;
    while (this.running) {
      this.notified = false;
      let report: CycleReport;
      try {
        report = await this.runOnce();
      } catch (err) {
        this.logger?.warn({ err, backoffMs: backoff }, 'outbox relay cycle failed');
        await this.sleep(backoff, false);
        backoff = Math.min(this.backoffMaxMs, backoff * 2);
        continue;
      }
      if (report.failed > 0) {
        this.logger?.warn({ ...report, backoffMs: backoff }, 'publishing failed; backing off');
        await this.sleep(backoff, false);
        backoff = Math.min(this.backoffMaxMs, backoff * 2);
        continue;
      }
      backoff = this.backoffMinMs;
      // Keep going while there is work: rows held behind another relay's lease free up without a NOTIFY.
      if (report.claimed > 0 || this.notified) continue;
      await this.sleep(this.pollIntervalMs, true);
    }
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

function byId(a: ClaimedRow, b: ClaimedRow): number {
  return a.id.length - b.id.length || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function positive(n: number, name: string): number {
  if (!Number.isFinite(n) || n <= 0) throw new RangeError(`OutboxRelay: ${name} must be a positive number, got ${n}`);
  return n;
}
