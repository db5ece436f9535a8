import type { EventEnvelope } from '@albergue/events';

interface Entry {
  readonly body: string;
  readonly version: number;
  readonly event: EventEnvelope;
}

/**
 * Envelopes this process already parsed and validated at receipt, kept (frozen) until the router
 * dispatches the same message, so a message is parsed and validated once, not twice. A hit needs
 * the same topic, event_id, target version and body text (the body leased from the ledger is
 * compared with the one received): anything else — a message recorded by another instance, an
 * entry evicted, a different payload under a reused id — is parsed again as before. Bounded:
 * past `maxEntries` the oldest entries are dropped (a miss only costs a parse).
 */
export class ParsedEnvelopes {
  private readonly entries = new Map<string, Entry>();

  constructor(readonly maxEntries = 10_000) {}

  get size(): number {
    return this.entries.size;
  }

  put(topic: string, eventId: string, body: string, version: number, event: EventEnvelope): void {
    if (this.maxEntries <= 0) return;
    const key = `${topic}\n${eventId}`;
    this.entries.delete(key);
    this.entries.set(key, { body, version, event });
    if (this.entries.size > this.maxEntries) {
      // Map iteration is insertion order: the first key is the oldest.
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  /** The envelope parsed at receipt, removed from the cache; undefined when it is not (or no longer) here. */
  take(topic: string, eventId: string, body: string, version: number): EventEnvelope | undefined {
    const key = `${topic}\n${eventId}`;
    const e = this.entries.get(key);
    if (!e) return undefined;
    this.entries.delete(key);
    return e.body === body && e.version === version ? e.event : undefined;
  }
}
