import type { AckOutcome, Delivery, DeliveryLedger } from '../ports/ledger';

/** A ledger that can ack several deliveries in one round trip (the Redis ledger can). */
interface BatchAcker {
  ackMany(deliveries: readonly Delivery[]): Promise<AckOutcome[]>;
}

function batchAcker(l: DeliveryLedger): BatchAcker | undefined {
  const ackMany = (l as Partial<BatchAcker>).ackMany;
  return typeof ackMany === 'function' ? { ackMany: (ds) => ackMany.call(l, ds) } : undefined;
}

/**
 * Coalesces the acks issued while one ack round trip is in flight into the next `ackMany` call:
 * at high rates one Redis call acks many deliveries; at low rates an ack goes out at once.
 * Each ack still resolves with its own outcome. Falls back to `ack` when the ledger has no ackMany.
 */
export class AckBatcher {
  private queue: { d: Delivery; resolve: (o: AckOutcome) => void; reject: (e: unknown) => void }[] = [];
  private running = false;

  private readonly many: BatchAcker | undefined;

  constructor(private readonly ledger: DeliveryLedger, private readonly maxBatch = 500) {
    this.many = batchAcker(ledger);
  }

  ack(d: Delivery): Promise<AckOutcome> {
    const many = this.many;
    if (!many) return this.ledger.ack(d);
    return new Promise<AckOutcome>((resolve, reject) => {
      this.queue.push({ d, resolve, reject });
      if (!this.running) void this.run(many);
    });
  }

  private async run(ledger: BatchAcker): Promise<void> {
    this.running = true;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      try {
        const outcomes = await ledger.ackMany(batch.map((b) => b.d));
        batch.forEach((b, i) => b.resolve(outcomes[i] ?? 'stale'));
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
    this.running = false;
  }
}
