import { newEnvelope, withCorrelation } from '@albergue/events';
import type { EnvelopeOf, EventDefinition, EventEnvelope, EventMeta, PayloadOf } from '@albergue/events';
import type { Logger } from '@albergue/platform';
import type { Delivery } from '../ports/ledger.js';

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

/** What a context asks of whoever created it, on first use: the router implements it once for all its contexts. */
export interface ContextHost {
  /** The logger of `ctx` (called once, on first use of ctx.log: a pino child per message is too costly at thousands per second). */
  loggerOf(ctx: HandlerContext): Logger;
  /** Middleware reported `ctx` as already handled. */
  duplicateOf(ctx: HandlerContext): void;
}

/**
 * The handler context: one small object per delivery, its methods and lazy parts (logger, abort
 * signal, locals) on the prototype, so a delivery costs no closures (thousands per second).
 */
export class DeliveryContext implements HandlerContext {
  readonly event: EnvelopeOf<EventDefinition>;
  readonly subscriber: string;
  readonly topic: string;
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly emitted: EventEnvelope[] = [];
  private logger: Logger | undefined;
  private controller: AbortController | undefined;
  private aborted = false;
  private scratch: Map<string | symbol, unknown> | undefined;

  constructor(
    private readonly host: ContextHost,
    event: EventEnvelope,
    readonly delivery: Delivery,
    readonly service: string,
    readonly handler: string,
  ) {
    this.event = event as EnvelopeOf<EventDefinition>;
    this.subscriber = delivery.subscriber;
    this.topic = delivery.topic;
    this.attempt = delivery.attempt;
    this.maxAttempts = delivery.maxAttempts;
  }

  get log(): Logger {
    return (this.logger ??= this.host.loggerOf(this));
  }

  /** Created on first use (most handlers never read it); aborted already if the budget ran out before. */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort();
    }
    return this.controller.signal;
  }

  /** Aborts `signal` (the timeout middleware calls it when the handler's budget is spent). */
  abort(): void {
    this.aborted = true;
    this.controller?.abort();
  }

  get locals(): Map<string | symbol, unknown> {
    return (this.scratch ??= new Map());
  }

  emit<E extends EventDefinition>(
    def: E,
    payload: PayloadOf<E>,
    meta: Omit<EventMeta, 'correlation_id' | 'causation_id'> = {},
  ): EnvelopeOf<E> {
    const child = newEnvelope(def, payload as never, withCorrelation(this.event, meta));
    this.emitted.push(child);
    return child as EnvelopeOf<E>;
  }

  takeEmitted(): EventEnvelope[] {
    return this.emitted.splice(0, this.emitted.length);
  }

  markDuplicate(): void {
    this.host.duplicateOf(this);
  }
}

class ArgsHost implements ContextHost {
  constructor(
    private readonly makeLog: () => Logger,
    private readonly onDuplicate: () => void,
  ) {}

  loggerOf(): Logger {
    return this.makeLog();
  }

  duplicateOf(): void {
    this.onDuplicate();
  }
}

/** A context from plain callbacks (the router builds its contexts with its own host instead). */
export function createContext(args: {
  event: EventEnvelope;
  delivery: Delivery;
  service: string;
  handler: string;
  /** Called once, on first use of ctx.log (a pino child per message is too costly at thousands per second). */
  log: () => Logger;
  /** The signal to expose; without it the context makes its own, aborted by `abort()`. */
  signal?: AbortSignal;
  onDuplicate: () => void;
}): HandlerContext {
  const ctx = new DeliveryContext(new ArgsHost(args.log, args.onDuplicate), args.event, args.delivery, args.service, args.handler);
  if (args.signal) Object.defineProperty(ctx, 'signal', { value: args.signal, enumerable: true });
  return ctx;
}
