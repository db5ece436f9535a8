import type { Logger } from '@albergue/platform';
import type { DeliveryLedger } from '../ports/ledger.js';
import type { Router } from './router.js';

export interface WorkerOptions {
  /** Handlers running at once (default 32). */
  readonly concurrency?: number;
  /**
   * Leased deliveries whose handler finished but whose ack/nack is still on its way to the ledger,
   * on top of `concurrency` (default: twice concurrency, at least 256). Acks are batched, so while one ack
   * batch is in flight the next lease is already being handled.
   */
  readonly maxSettling?: number;
  /** Idle polling: starts at minIdleMs after an empty lease, doubles to maxIdleMs (defaults 5, 100). */
  readonly minIdleMs?: number;
  readonly maxIdleMs?: number;
  readonly logger?: Logger;
}

/**
 * Leases due messages of the router's subscriber and dispatches them with bounded concurrency.
 * Polls with a short backoff when idle (retries and lapsed leases become due by time) and wakes
 * when `wake()` is called (the transport recorded something new, or handlers finished): wake-ups
 * of one event-loop turn are coalesced, so a batch of finished handlers leads to one lease of that
 * many messages rather than many small ones. A handler's slot is free as soon as the handler
 * returns; its ack travels (batched) while the next lease runs, up to `maxSettling` of them.
 * `close()` stops leasing and waits for the handlers in flight and their acks.
 */
export class Worker {
  private readonly concurrency: number;
  private readonly maxSettling: number;
  private readonly minIdleMs: number;
  private readonly maxIdleMs: number;
  /** Deliveries dispatched and not yet settled in the ledger (handler running, or its ack/nack on the way). */
  private inflight = 0;
  /** Handlers running (inflight minus those only waiting for their ack). */
  private running = 0;
  private drained: (() => void) | undefined;
  private drain: Promise<void> | undefined;
  // Bound once: a delivery costs no closures (thousands per second).
  private readonly handled = (): void => {
    this.running--;
    this.wake();
  };
  private readonly settled = (): void => {
    this.inflight--;
    if (this.inflight === 0) this.drained?.();
    this.wake();
  };
  private stopped = false;
  private woken = false;
  private wakeUp: (() => void) | undefined;
  private wakeScheduled = false;
  private loop: Promise<void> | undefined;
  /** When a lease call last answered, and the error of the failing ones since (for health). */
  private lastLeaseOkAt = Date.now();
  private lastLeaseError: string | undefined;

  constructor(
    private readonly router: Router,
    private readonly ledger: DeliveryLedger,
    private readonly options: WorkerOptions = {},
  ) {
    this.concurrency = Math.max(1, options.concurrency ?? 32);
    this.maxSettling = Math.max(0, options.maxSettling ?? Math.max(256, 2 * this.concurrency));
    this.minIdleMs = options.minIdleMs ?? 5;
    this.maxIdleMs = Math.max(this.minIdleMs, options.maxIdleMs ?? 100);
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** New work may be available: lease soon (at the end of this event-loop turn) instead of at the next poll. */
  wake(): void {
    this.woken = true;
    if (this.wakeUp && !this.wakeScheduled) {
      this.wakeScheduled = true;
      setImmediate(() => {
        this.wakeScheduled = false;
        this.wakeUp?.();
      });
    }
  }

  private async idle(ms: number): Promise<void> {
    if (this.woken || this.stopped) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
    this.wakeUp = undefined;
  }

  /** How many deliveries may be leased now. */
  private free(): number {
    return Math.min(this.concurrency - this.running, this.concurrency + this.maxSettling - this.inflight);
  }

  private async run(): Promise<void> {
    const subscriber = this.router.subscriber;
    let idleMs = this.minIdleMs;
    // Fewer free slots than this while handlers run: wait for more to finish rather than lease a
    // sliver (one lease round trip per few messages would cap throughput at the Redis latency).
    const minLease = Math.max(1, Math.floor(this.concurrency / 4));
    while (!this.stopped) {
      const free = this.free();
      if (free <= 0 || (free < minLease && this.running > 0)) {
        await this.idle(this.maxIdleMs);
        this.woken = false;
        continue;
      }
      this.woken = false;
      let leased;
      try {
        leased = await this.ledger.lease(subscriber, free);
        this.lastLeaseOkAt = Date.now();
        this.lastLeaseError = undefined;
      } catch (err) {
        this.lastLeaseError = err instanceof Error ? err.message : String(err);
        this.options.logger?.error({ err, subscriber }, 'lease failed; retrying');
        await this.idle(this.maxIdleMs);
        continue;
      }
      if (leased.length === 0) {
        await this.idle(idleMs);
        idleMs = Math.min(this.maxIdleMs, idleMs * 2);
        continue;
      }
      idleMs = this.minIdleMs;
      for (const delivery of leased) {
        this.running++;
        this.inflight++;
        // dispatch never rejects and calls `handled` exactly once.
        void this.router.dispatch(delivery, this.handled).then(this.settled, this.settled);
      }
      // Let handlers that finish at once (most) free their slots before counting free slots again.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** Not ok when leasing has failed for longer than `stallAfterMs` (nothing can be processed), with the error. */
  health(stallAfterMs: number, now = Date.now()): { readonly ok: boolean; readonly reason?: string } {
    if (this.lastLeaseError !== undefined && now - this.lastLeaseOkAt > stallAfterMs) {
      return {
        ok: false,
        reason: `${this.router.subscriber}: cannot lease from the ledger for ${Math.round((now - this.lastLeaseOkAt) / 1000)} s: ${this.lastLeaseError}`,
      };
    }
    return { ok: true };
  }

  /** Stops leasing, lets in-flight handlers finish (bounded by their timeout middleware) and their acks land. */
  async close(): Promise<void> {
    this.stopped = true;
    this.wakeUp?.();
    await this.loop;
    if (this.inflight > 0) await (this.drain ??= new Promise<void>((resolve) => (this.drained = resolve)));
  }
}
