import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Publisher } from '@albergue/messaging';
import type { Logger } from '@albergue/platform';
import type { Registry } from 'prom-client';
import type { SqlDatabase, SqlExecutor } from './db/port.js';
import type { OutboxMetrics } from './metrics.js';
import { outboxMetrics } from './metrics.js';
import { OUTBOX_NOTIFY_CHANNEL } from './migrations/sql.js';
import type { ClaimedRow, PublishedRows, RetryBackoff } from './claim.js';
import { claimLocked, claimWithLease, markLockedPublished, settleBatch } from './claim.js';
import type { Delivery } from './deliver.js';
import { deliverInWaves } from './deliver.js';

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
  /**
   * What becomes of a published row (default `mark`): `mark` sets `published_at` and keeps the row,
   * envelope included, in `outbox_events`; `move` deletes it and records it without its envelope in
   * `outbox_published` (id, event_id, topic, aggregate, created_at, published_at, attempts), which
   * costs Postgres ~30% less per event. Choose `move` when nothing reads published envelopes from
   * the outbox; prune `outbox_published` as you see fit. Unpublished rows stay in `outbox_events`
   * either way (`published_at IS NULL`), so lag and backlog read the same.
   */
  readonly publishedRows?: PublishedRows;
  readonly metrics?: Registry;
  readonly logger?: Logger;
}

export interface CycleReport {
  readonly claimed: number;
  readonly published: number;
  readonly failed: number;
  /** Claimed but not attempted: an earlier row of the same aggregate failed. */
  readonly heldBack: number;
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
  private readonly retry: RetryBackoff;
  private readonly publishedRows: PublishedRows;
  private readonly metrics: OutboxMetrics | undefined;
  private readonly logger: Logger | undefined;
  private running = false;
  private notified = false;
  private loops: Promise<void>[] = [];
  private readonly sleepers = new Set<() => void>();
  private unlisten: (() => Promise<void>) | undefined;

  constructor(
    private readonly db: SqlDatabase,
    private readonly publisher: Publisher,
    options: OutboxRelayOptions = {},
  ) {
    this.relayId = options.relayId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.batchSize = positive(options.batchSize ?? 500, 'batchSize');
    this.scanWindow = Math.max(this.batchSize, options.scanWindow ?? 8 * this.batchSize);
    this.concurrency = positive(options.concurrency ?? 1, 'concurrency');
    this.pipeline = positive(options.pipeline ?? 3, 'pipeline');
    this.leaseMs = positive(options.leaseMs ?? 30_000, 'leaseMs');
    this.pollIntervalMs = positive(options.pollIntervalMs ?? 1000, 'pollIntervalMs');
    this.backoffMinMs = positive(options.backoffMinMs ?? 100, 'backoffMinMs');
    this.backoffMaxMs = Math.max(this.backoffMinMs, options.backoffMaxMs ?? 5000);
    const retryMinMs = positive(options.retryMinMs ?? 100, 'retryMinMs');
    this.retry = { minMs: retryMinMs, maxMs: Math.max(retryMinMs, options.retryMaxMs ?? 5000) };
    this.publishedRows = options.publishedRows ?? 'mark';
    if (this.publishedRows !== 'mark' && this.publishedRows !== 'move')
      throw new RangeError(`OutboxRelay: publishedRows must be 'mark' or 'move', got ${String(this.publishedRows)}`);
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
    const rows = await claimWithLease(this.db, this.batchSize, window, this.relayId, this.leaseMs);
    claimed(rows.length);
    if (rows.length === 0) return NOTHING;
    const delivery = await deliverInWaves(this.publisher, rows);
    await this.settle(this.db, delivery, true);
    return report(rows, delivery);
  }

  /** Claims, publishes and marks in one transaction that holds the batch's row locks (Postgres). */
  private async lockedCycle(claimed: (rows: number) => void, window: number): Promise<CycleReport> {
    let delivery: Delivery | undefined;
    try {
      return await this.db.transaction(async (tx) => {
        const rows = await claimLocked(tx, this.batchSize, window, this.leaseMs);
        claimed(rows.length);
        if (rows.length === 0) return NOTHING;
        delivery = await deliverInWaves(this.publisher, rows);
        await this.settle(tx, delivery, false);
        return report(rows, delivery);
      });
    } catch (err) {
      // The locks are gone (session ended, commit failed): what the broker acknowledged is published
      // all the same. Another relay may have republished it meanwhile — a duplicate, never a loss.
      if (delivery && delivery.published.length > 0) {
        await markLockedPublished(this.db, delivery.published, this.publishedRows).catch((markErr: unknown) => {
          this.logger?.warn({ err: markErr }, 'could not mark published rows after the batch transaction failed');
        });
      }
      throw err;
    }
  }

  /** Writes the batch back and counts what the broker acknowledged. */
  private async settle(sql: SqlExecutor, delivery: Delivery, leased: boolean): Promise<void> {
    await settleBatch(sql, delivery, leased, this.retry, this.publishedRows);
    if (this.metrics && delivery.published.length > 0) {
      const perTopic = new Map<string, number>();
      for (const r of delivery.published) perTopic.set(r.topic, (perTopic.get(r.topic) ?? 0) + 1);
      for (const [topic, n] of perTopic) this.metrics.published.inc({ topic }, n);
    }
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
      const claimed = new Promise<number>((resolve) => {
        onClaimed = resolve;
      });
      const running: Promise<void> = cycle((rows) => {
        window = rows >= this.batchSize ? small : this.scanWindow;
        onClaimed(rows);
      }, window)
        .then(
          (r) => {
            if (r.failed > 0) trouble ??= { report: r };
            else if (r.claimed > 0 && !trouble) backoff = this.backoffMinMs;
          },
          (err: unknown) => {
            trouble ??= { err };
          },
        )
        .finally(() => {
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
      const waker = (): void => {
        if (wakeable || !this.running) done();
      };
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

function positive(n: number, name: string): number {
  if (!Number.isFinite(n) || n <= 0) throw new RangeError(`OutboxRelay: ${name} must be a positive number, got ${n}`);
  return n;
}
