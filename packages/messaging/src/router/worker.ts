import type { Logger } from '@albergue/platform';
import type { DeliveryLedger } from '../ports/ledger';
import type { Router } from './router';

export interface WorkerOptions {
  /** Handlers running at once (default 32). */
  readonly concurrency?: number;
  /** Idle polling: starts at minIdleMs after an empty lease, doubles to maxIdleMs (defaults 5, 100). */
  readonly minIdleMs?: number;
  readonly maxIdleMs?: number;
  readonly logger?: Logger;
}

/**
 * Leases due messages of the router's subscriber and dispatches them with bounded concurrency.
 * Polls with a short backoff when idle (retries and lapsed leases become due by time) and wakes at
 * once when `wake()` is called (the transport recorded something new, or a handler finished).
 * `close()` stops leasing and waits for the handlers in flight.
 */
export class Worker {
  private readonly concurrency: number;
  private readonly minIdleMs: number;
  private readonly maxIdleMs: number;
  private readonly inflight = new Set<Promise<unknown>>();
  private stopped = false;
  private woken = false;
  private wakeUp: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly router: Router, private readonly ledger: DeliveryLedger, private readonly options: WorkerOptions = {}) {
    this.concurrency = Math.max(1, options.concurrency ?? 32);
    this.minIdleMs = options.minIdleMs ?? 5;
    this.maxIdleMs = Math.max(this.minIdleMs, options.maxIdleMs ?? 100);
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** New work may be available: lease now instead of at the next poll. */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
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

  private async run(): Promise<void> {
    const subscriber = this.router.subscriber;
    let idleMs = this.minIdleMs;
    while (!this.stopped) {
      const free = this.concurrency - this.inflight.size;
      if (free <= 0) {
        await this.idle(this.maxIdleMs);
        this.woken = false;
        continue;
      }
      this.woken = false;
      let leased;
      try {
        leased = await this.ledger.lease(subscriber, free);
      } catch (err) {
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
        const p: Promise<unknown> = this.router.dispatch(delivery).finally(() => {
          this.inflight.delete(p);
          this.wake();
        });
        this.inflight.add(p);
      }
    }
  }

  /** Stops leasing, lets in-flight handlers finish (bounded by their timeout middleware). */
  async close(): Promise<void> {
    this.stopped = true;
    this.wakeUp?.();
    await this.loop;
    await Promise.all([...this.inflight]);
  }
}
