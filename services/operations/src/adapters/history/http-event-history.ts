// EventHistory over the audit service's API (the agreed contract):
//   GET {AUDIT_URL}/audit/events?cursor=&limit=1000
//   → { "items": [ { "seq", "event_id", "topic", "event_type", "recorded_at", "envelope": {…} } ], "next_cursor": string|null }
// in recording order; the caller pages until next_cursor is null.
import type { EventHistory, HistoryItem, HistoryPage } from '../../application/ports.js';
import { HistoryUnavailable } from '../../application/ports.js';

export interface HttpEventHistoryOptions {
  /** Per request (default 30 s). */
  readonly timeoutMs?: number;
  /** Extra headers (e.g. an authorization the gateway wants). */
  readonly headers?: Readonly<Record<string, string>>;
}

function isItem(x: unknown): x is HistoryItem {
  if (x === null || typeof x !== 'object') return false;
  const i = x as Record<string, unknown>;
  return (
    (typeof i.seq === 'number' || typeof i.seq === 'string') &&
    typeof i.event_id === 'string' &&
    typeof i.topic === 'string' &&
    typeof i.event_type === 'string' &&
    typeof i.recorded_at === 'string' &&
    i.envelope !== null &&
    typeof i.envelope === 'object'
  );
}

export class HttpEventHistory implements EventHistory {
  readonly source: string;

  constructor(
    private readonly auditUrl: string,
    private readonly o: HttpEventHistoryOptions = {},
  ) {
    this.source = `the audit service at ${auditUrl}`;
  }

  async page(cursor: string | null, limit: number): Promise<HistoryPage> {
    const url = new URL('/audit/events', this.auditUrl);
    if (cursor !== null) url.searchParams.set('cursor', cursor);
    url.searchParams.set('limit', String(limit));
    let res: Response;
    try {
      res = await fetch(url, {
        headers: { accept: 'application/json', ...this.o.headers },
        signal: AbortSignal.timeout(this.o.timeoutMs ?? 30_000),
      });
    } catch (err) {
      const c = (err as { cause?: { code?: string; message?: string } }).cause;
      const cause = c?.code ?? c?.message ?? (err as Error).message;
      throw new HistoryUnavailable(`cannot reach ${this.source} (${cause}): start the audit service or set AUDIT_URL`, { cause: err });
    }
    const text = await res.text();
    if (!res.ok)
      throw new HistoryUnavailable(`${this.source} answered ${res.status} to GET ${url.pathname}${url.search}: ${text.slice(0, 300)}`);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      throw new HistoryUnavailable(`${this.source} answered with something that is not JSON`, { cause: err });
    }
    const b = body as { items?: unknown; next_cursor?: unknown };
    if (!Array.isArray(b.items) || !(b.next_cursor === null || typeof b.next_cursor === 'string'))
      throw new HistoryUnavailable(`${this.source} answered without items[] and next_cursor (string or null)`);
    const bad = b.items.findIndex((i) => !isItem(i));
    if (bad >= 0)
      throw new HistoryUnavailable(`${this.source}: items[${bad}] lacks seq, event_id, topic, event_type, recorded_at or envelope`);
    return { items: b.items as HistoryItem[], next_cursor: b.next_cursor };
  }
}
