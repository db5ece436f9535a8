// The audit trail's queries: events with cursor paging, and the flow of a correlation id (or of a
// booking) as a causal tree with each event's delivery state per subscriber.
import type { FlowNode } from '../domain/flow-tree.js';
import { flowTree } from '../domain/flow-tree.js';
import type { AuditStore, BreakerView, DeliveryFacts, DeliveryLookup, EventFilter, StoredEvent, SubscriberDelivery } from './ports.js';

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1_000;
/** Most events one flow answer shows (a flow is a handful of events; a runaway one is cut, and says so). */
const MAX_FLOW_EVENTS = 1_000;
/** Events per call to the broker (its limit is 200 events and 1,000 (event, subscriber) pairs). */
const LOOKUP_CHUNK = 100;

/** `cursor` ⇄ seq: opaque to clients (base64url of `seq:<n>`). */
function encodeCursor(seq: number): string {
  return Buffer.from(`seq:${seq}`).toString('base64url');
}

/** The seq a cursor stands for, or undefined when it is not one of ours. */
export function decodeCursor(cursor: string): number | undefined {
  const m = /^seq:(0|[1-9][0-9]{0,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m) return undefined;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) ? n : undefined;
}

interface EventItem {
  readonly seq: number;
  readonly event_id: string;
  readonly topic: string;
  readonly event_type: string;
  readonly recorded_at: string;
  readonly envelope: StoredEvent['envelope'];
}

export interface EventPage {
  readonly items: readonly EventItem[];
  readonly next_cursor: string | null;
}

/** A page of events by seq; next_cursor is null when nothing more matches now. */
export async function listEvents(deps: { store: AuditStore }, filter: EventFilter, afterSeq: number, limit: number): Promise<EventPage> {
  const rows = await deps.store.list(filter, afterSeq, limit + 1);
  const page = rows.slice(0, limit);
  const more = rows.length > limit;
  return {
    items: page.map((e) => ({
      seq: e.seq,
      event_id: e.eventId,
      topic: e.topic,
      event_type: e.eventType,
      recorded_at: e.recordedAt,
      envelope: e.envelope,
    })),
    next_cursor: more && page.length > 0 ? encodeCursor(page[page.length - 1]!.seq) : null,
  };
}

export interface FlowEventView {
  readonly seq: number;
  readonly event_id: string;
  readonly event_type: string;
  readonly event_version: number;
  readonly topic: string;
  readonly occurred_at: string;
  readonly recorded_at: string;
  readonly causation_id: string;
  readonly aggregate: { readonly type: string; readonly id: string };
  readonly delivery: readonly SubscriberDelivery[];
  readonly children: readonly FlowEventView[];
}

export interface FlowView {
  readonly correlation_id: string;
  readonly event_count: number;
  /** More than MAX_FLOW_EVENTS events: the first ones (by seq) are shown. */
  readonly truncated: boolean;
  /** Where the delivery facts come from: the broker's ledger, or nowhere (then every state is `unknown`). */
  readonly delivery_source: 'broker' | 'unavailable';
  readonly warnings: readonly string[];
  /** Breakers of the flow's (subscriber, topic) pairs that are not closed. */
  readonly breakers: readonly BreakerView[];
  /** The causal tree: roots (events caused by a command or by nothing in the flow), children nested. */
  readonly roots: readonly FlowEventView[];
}

export interface FlowDeps {
  readonly store: AuditStore;
  readonly deliveries: DeliveryFacts;
  /** Declared subscribers of a topic (from the composition's declarations); without it the broker decides. */
  readonly subscribersOf?: (topic: string) => readonly string[];
  readonly onDeliveryError?: (err: unknown) => void;
}

/** The flow of `correlationId`, or undefined when the trail has no event of it. */
export async function flowOf(deps: FlowDeps, correlationId: string): Promise<FlowView | undefined> {
  const events = await deps.store.flow(correlationId, MAX_FLOW_EVENTS + 1);
  if (events.length === 0) return undefined;
  const shown = events.slice(0, MAX_FLOW_EVENTS);
  const lookups: DeliveryLookup[] = shown.map((e) => {
    const subscribers = deps.subscribersOf?.(e.topic);
    return subscribers ? { eventId: e.eventId, topic: e.topic, subscribers } : { eventId: e.eventId, topic: e.topic };
  });
  const warnings: string[] = [];
  let deliveries = new Map<string, readonly SubscriberDelivery[]>();
  let breakers: BreakerView[] = [];
  let source: FlowView['delivery_source'] = 'broker';
  try {
    for (let i = 0; i < lookups.length; i += LOOKUP_CHUNK) {
      const answer = await deps.deliveries.lookup(lookups.slice(i, i + LOOKUP_CHUNK));
      for (const [id, d] of answer.deliveries) deliveries.set(id, d);
      breakers.push(...answer.breakers);
    }
  } catch (err) {
    deps.onDeliveryError?.(err);
    source = 'unavailable';
    deliveries = new Map();
    breakers = [];
    warnings.push(`delivery state unknown: the broker's ledger could not be asked (${err instanceof Error ? err.message : String(err)})`);
  }
  if (events.length > MAX_FLOW_EVENTS)
    warnings.push(`the flow has more than ${MAX_FLOW_EVENTS} events; the first ${MAX_FLOW_EVENTS} are shown`);
  const unknown = (topic: string): SubscriberDelivery[] =>
    (deps.subscribersOf?.(topic) ?? []).map((subscriber) => ({ subscriber, state: 'unknown', attempts: 0, errors: [] }));
  const view = (n: FlowNode<StoredEvent>): FlowEventView => ({
    seq: n.event.seq,
    event_id: n.event.eventId,
    event_type: n.event.eventType,
    event_version: n.event.eventVersion,
    topic: n.event.topic,
    occurred_at: n.event.occurredAt,
    recorded_at: n.event.recordedAt,
    causation_id: n.event.causationId,
    aggregate: { type: n.event.aggregateType, id: n.event.aggregateId },
    delivery: deliveries.get(n.event.eventId) ?? unknown(n.event.topic),
    children: n.children.map(view),
  });
  const seen = new Set<string>();
  return {
    correlation_id: correlationId,
    event_count: events.length > MAX_FLOW_EVENTS ? MAX_FLOW_EVENTS : events.length,
    truncated: events.length > MAX_FLOW_EVENTS,
    delivery_source: source,
    warnings,
    breakers: breakers.filter((b) => {
      const k = `${b.subscriber}\0${b.topic}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    }),
    roots: flowTree(shown).map(view),
  };
}

/** The flow a booking belongs to (its first event's correlation_id), or undefined. */
export async function bookingFlow(deps: FlowDeps, bookingId: string): Promise<FlowView | undefined> {
  const correlationId = await deps.store.correlationOfAggregate('booking', bookingId);
  return correlationId === undefined ? undefined : flowOf(deps, correlationId);
}
