// EventHistory in memory: recorded envelopes in recording order, paged like the audit API (the cursor
// is the seq of the last item returned). Tests, and the loopback audit stand-in (audit-stand-in.ts).
import { events } from '@albergue/events';
import type { EventEnvelope } from '@albergue/events';
import type { EventHistory, HistoryItem, HistoryPage } from '../../application/ports.js';
import { HistoryUnavailable } from '../../application/ports.js';

export class MemoryEventHistory implements EventHistory {
  readonly source = 'the in-memory event history';
  private readonly items: HistoryItem[] = [];

  constructor(envelopes: Iterable<EventEnvelope> = []) {
    for (const e of envelopes) this.record(e);
  }

  /** Appends an event as the audit trail records it. */
  record(envelope: EventEnvelope, recordedAt = new Date().toISOString()): void {
    this.items.push({
      seq: this.items.length + 1,
      event_id: envelope.event_id,
      topic: events.definition(envelope.event_type, envelope.event_version)?.topic ?? `unknown.${envelope.event_type}`,
      event_type: envelope.event_type,
      recorded_at: recordedAt,
      envelope,
    });
  }

  get size(): number {
    return this.items.length;
  }

  page(cursor: string | null, limit: number): Promise<HistoryPage> {
    const after = cursor === null ? 0 : Number(cursor);
    if (!Number.isInteger(after) || after < 0) return Promise.reject(new HistoryUnavailable(`bad cursor ${JSON.stringify(cursor)}`));
    const items = this.items.slice(after, after + limit);
    const end = after + items.length;
    return Promise.resolve({ items, next_cursor: end < this.items.length ? String(end) : null });
  }
}
