import { newEnvelope, withCorrelation } from '@albergue/events';
import type { EnvelopeOf, EventDefinition, EventEnvelope, EventMeta, PayloadOf } from '@albergue/events';
import type { Logger } from '@albergue/platform';
import type { Delivery } from '../ports/ledger';

/** What a handler sees of the message it handles. */
export interface HandlerContext<D extends EventDefinition = EventDefinition> {
  /** The validated envelope, upcast to the version the handler was registered for. */
  readonly event: EnvelopeOf<D>;
  readonly service: string;
  readonly subscriber: string;
  /** Handler name, `<action>On<Event>`. */
  readonly handler: string;
  /** Logical topic the message arrived on. */
  readonly topic: string;
  /** 1-based attempt of this message (lapsed leases included). */
  readonly attempt: number;
  readonly maxAttempts: number;
  /** Bound to service, subscriber, handler, topic, event_id, correlation_id, attempt. */
  readonly log: Logger;
  /** Aborted when the handler's time budget is spent (timeout middleware) or the consumer stops. */
  readonly signal: AbortSignal;
  /**
   * Builds a child event: correlation_id inherited, causation_id = this event's event_id. The event
   * is collected in `emitted`; the consumer hands them to its `onEmitted` (publish directly, or
   * write them to an outbox) before the message is acked.
   */
  emit<E extends EventDefinition>(def: E, payload: PayloadOf<E>, meta?: Omit<EventMeta, 'correlation_id' | 'causation_id'>): EnvelopeOf<E>;
  readonly emitted: readonly EventEnvelope[];
  /**
   * Removes and returns the emitted events: for middleware that stores them itself (the inbox writes
   * them to the outbox in the handler's transaction), so the consumer's sink does not see them again.
   */
  takeEmitted(): EventEnvelope[];
  /** Per-delivery scratch space for middleware (e.g. the inbox puts its Postgres transaction here). */
  readonly locals: Map<string | symbol, unknown>;
  /** Middleware that recognises an already-handled event (e.g. the inbox) reports it here. */
  markDuplicate(): void;
  readonly delivery: Delivery;
}

export function createContext(args: {
  event: EventEnvelope;
  delivery: Delivery;
  service: string;
  handler: string;
  /** Called once, on first use of ctx.log (a pino child per message is too costly at thousands per second). */
  log: () => Logger;
  signal: AbortSignal;
  onDuplicate: () => void;
}): HandlerContext {
  const emitted: EventEnvelope[] = [];
  const { event, delivery } = args;
  let log: Logger | undefined;
  return {
    event: event as EnvelopeOf<EventDefinition>,
    service: args.service,
    subscriber: delivery.subscriber,
    handler: args.handler,
    topic: delivery.topic,
    attempt: delivery.attempt,
    maxAttempts: delivery.maxAttempts,
    get log() {
      return (log ??= args.log());
    },
    signal: args.signal,
    emitted,
    locals: new Map(),
    delivery,
    markDuplicate: args.onDuplicate,
    takeEmitted: () => emitted.splice(0, emitted.length),
    emit(def, payload, meta = {}) {
      const child = newEnvelope(def, payload as never, withCorrelation(event, meta));
      emitted.push(child);
      return child as EnvelopeOf<typeof def>;
    },
  };
}
