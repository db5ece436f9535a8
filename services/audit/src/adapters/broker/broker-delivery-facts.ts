// DeliveryFacts through the broker's admin API (`POST /api/mqtt/deliveries`): the ledger is the
// broker's; audit only asks. Any failure (unreachable, timeout, 4xx/5xx, a body not as documented)
// is thrown with its reason, and the flow query answers with delivery "unknown" and a warning.
import type { BreakerView, DeliveryAnswer, DeliveryFacts, DeliveryLookup, SubscriberDelivery } from '../../application/ports.js';

export interface BrokerDeliveryFactsOptions {
  /** The broker's HTTP API, e.g. http://127.0.0.1:8090. */
  readonly url: string;
  readonly adminToken: string;
  /** Per request (default 3 s). */
  readonly timeoutMs?: number;
}

interface Answer {
  readonly events?: readonly { readonly event_id: string; readonly deliveries: readonly SubscriberDelivery[] }[];
  readonly breakers?: readonly BreakerView[];
}

const isArray = <T>(v: readonly T[] | undefined): v is readonly T[] => Array.isArray(v);

export class BrokerDeliveryFacts implements DeliveryFacts {
  constructor(private readonly o: BrokerDeliveryFactsOptions) {}

  async lookup(events: readonly DeliveryLookup[]): Promise<DeliveryAnswer> {
    if (events.length === 0) return { deliveries: new Map(), breakers: [] };
    const url = new URL('/api/mqtt/deliveries', this.o.url);
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.o.adminToken}` },
      body: JSON.stringify({
        events: events.map((e) => ({ event_id: e.eventId, topic: e.topic, ...(e.subscribers ? { subscribers: e.subscribers } : {}) })),
      }),
      signal: AbortSignal.timeout(this.o.timeoutMs ?? 3_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`broker answered ${res.status}: ${text.slice(0, 300)}`);
    const body = JSON.parse(text) as Answer;
    if (!isArray(body.events) || !isArray(body.breakers)) throw new Error('broker answered without events/breakers');
    const deliveries = new Map<string, readonly SubscriberDelivery[]>();
    for (const e of body.events) deliveries.set(e.event_id, e.deliveries);
    return { deliveries, breakers: body.breakers };
  }
}
