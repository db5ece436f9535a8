import type { AckOutcome, Delivery, DeliveryLedger } from '../ports/ledger.js';

/** A ledger that can ack several deliveries in one round trip (the Redis ledger can). */
interface BatchAcker {
  ackMany(deliveries: readonly Delivery[]): Promise<AckOutcome[]>;
}

function batchAcker(l: DeliveryLedger): BatchAcker | undefined {
  const ackMany = (l as Partial<BatchAcker>).ackMany;
  return typeof ackMany === 'function' ? { ackMany: (ds) => ackMany.call(l, ds) } : undefined;
}

export interface AckBatcherOptions {
  /** Deliveries per ackMany call (default 500). */
  readonly maxBatch?: number;
  /** ackMany calls in flight at once (default 2): the next batch fills while one is on the wire. */
  readonly maxInFlight?: number;
}

interface Queued {
  readonly d: Delivery;
  readonly resolve: (o: AckOutcome) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * Coalesces acks into `ackMany` calls: the acks issued during one turn of the event loop (a whole
 * leased batch finishing together) go out as one call, and while calls are in flight the next acks
 * accumulate for the following one. At low rates an ack goes out on the next turn. Each ack still
 * resolves with its own outcome. Falls back to `ack` when the ledger has no ackMany.
 */
export class AckBatcher {
  private queue: Queued[] = [];
  private inFlight = 0;
  private scheduled = false;
  private readonly many: BatchAcker | undefined;
  private readonly maxBatch: number;
  private readonly maxInFlight: number;

  constructor(
    private readonly ledger: DeliveryLedger,
    options: AckBatcherOptions | number = {},
  ) {
    this.many = batchAcker(ledger);
    const o = typeof options === 'number' ? { maxBatch: options } : options;
    this.maxBatch = Math.max(1, o.maxBatch ?? 500);
    this.maxInFlight = Math.max(1, o.maxInFlight ?? 2);
  }

  ack(d: Delivery): Promise<AckOutcome> {
    if (!this.many) return this.ledger.ack(d);
    return new Promise<AckOutcome>((resolve, reject) => {
      this.queue.push({ d, resolve, reject });
      if (!this.scheduled && this.inFlight < this.maxInFlight) {
        this.scheduled = true;
        // After the current turn: every ack issued by handlers finishing in this turn joins the call.
        setImmediate(() => {
          this.scheduled = false;
          this.pump();
        });
      }
    });
  }

  private pump(): void {
    const many = this.many;
    if (!many) return;
    while (this.queue.length > 0 && this.inFlight < this.maxInFlight) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.inFlight++;
      many
        .ackMany(batch.map((b) => b.d))
        .then(
          (outcomes) => batch.forEach((b, i) => b.resolve(outcomes[i] ?? 'stale')),
          (err: unknown) => batch.forEach((b) => b.reject(err)),
        )
        .finally(() => {
          this.inFlight--;
          this.pump();
        });
    }
  }
}
