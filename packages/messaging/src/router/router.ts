import { parseEnvelope } from '@albergue/events';
import type { EventDefinition, EventEnvelope } from '@albergue/events';
import { createLogger } from '@albergue/platform';
import type { Logger } from '@albergue/platform';
import type { Registry } from 'prom-client';
import { mergePolicy } from '../ledger/policy.js';
import type { MessagingMetrics } from '../metrics.js';
import { countDeadLetters, messagingMetrics } from '../metrics.js';
import { PermanentError, permanentErrorOf } from '../errors.js';
import type { Delivery, DeliveryLedger, SubscriptionPolicy } from '../ports/ledger.js';
import { DEFAULT_POLICY } from '../ports/ledger.js';
import type { ContextHost, HandlerContext } from './context.js';
import { DeliveryContext } from './context.js';
import type { Middleware, Next } from './middleware.js';
import { compose, timeout } from './middleware.js';
import { AckBatcher } from './ack-batcher.js';
import type { ParsedEnvelopes } from './parsed-envelopes.js';

export type Handler<D extends EventDefinition = EventDefinition> = (ctx: HandlerContext<D>) => Promise<void> | void;

export interface RouteOptions {
  /** Overrides of the router's default policy for this subscription. */
  readonly policy?: Partial<SubscriptionPolicy>;
  /** Handler time budget; default 90% of the visibility timeout (past it another instance may lease the message). */
  readonly timeoutMs?: number;
  /** Middleware for this route only, inside the router's own. */
  readonly middleware?: readonly Middleware[];
}

export interface Route {
  readonly def: EventDefinition;
  readonly handler: string;
  readonly policy: SubscriptionPolicy;
  readonly timeoutMs: number;
  readonly run: Next;
  /** Metric labels of this route (service, subscriber, topic). */
  readonly labels: { readonly service: string; readonly subscriber: string; readonly topic: string };
}

/** Where events emitted by a handler go, before its message is acked (a failure nacks it). */
export type EmittedSink = (events: readonly EventEnvelope[], ctx: HandlerContext) => Promise<void>;

export interface RouterOptions {
  readonly service: string;
  /** Consumer group whose ledger entries this router handles. */
  readonly subscriber: string;
  readonly ledger: DeliveryLedger;
  readonly logger?: Logger;
  readonly metrics?: Registry;
  /** Default policy of every route (route options override it). */
  readonly policy?: Partial<SubscriptionPolicy>;
  /** Publishes or stores emitted events. Without it, a handler that emits fails (nothing is dropped silently). */
  readonly onEmitted?: EmittedSink;
  /** Envelopes the transport of this process parsed at receipt: a hit skips the second parse and validation. */
  readonly parsed?: ParsedEnvelopes;
}

export type DispatchOutcome = 'acked' | 'retry-scheduled' | 'dead-lettered' | 'stale';

/**
 * Routes leased deliveries to handlers by topic, through middleware `(next) => handler`. The router
 * alone acks or nacks the ledger: a handler that returns succeeded (ack), one that throws failed
 * (nack with its error message; the ledger schedules the retry or dead-letters it).
 */
export class Router {
  private readonly byTopic = new Map<string, Route>();
  private readonly middleware: Middleware[] = [];
  private readonly pending: { def: EventDefinition; handler: string; fn: Handler; options: RouteOptions }[] = [];
  private readonly log: Logger;
  private readonly metrics: MessagingMetrics | undefined;
  private readonly host: ContextHost;
  private readonly acks: AckBatcher;
  private sealed = false;

  constructor(readonly options: RouterOptions) {
    this.log = options.logger ?? createLogger(options.service, { level: 'silent' });
    this.metrics = options.metrics ? messagingMetrics(options.metrics) : undefined;
    this.acks = new AckBatcher(options.ledger);
    this.host = new RouterHost({ log: this.log, metrics: this.metrics, service: options.service });
  }

  get subscriber(): string {
    return this.options.subscriber;
  }

  /** Adds middleware around every handler; the first added is the outermost. */
  use(...middleware: Middleware[]): this {
    if (this.sealed) throw new Error('Router.use() after the router started');
    this.middleware.push(...middleware);
    return this;
  }

  /** Registers the handler of `def` (one per event definition and subscriber). */
  on<D extends EventDefinition>(def: D, handler: string, fn: Handler<D>, options: RouteOptions = {}): this {
    if (this.sealed) throw new Error('Router.on() after the router started');
    if (this.pending.some((p) => p.def.topic === def.topic)) throw new Error(`${this.subscriber} already has a handler for ${def.topic}`);
    this.pending.push({ def, handler, fn, options });
    return this;
  }

  /** Builds the middleware chains and registers every subscription's policy in the ledger. */
  async start(): Promise<readonly Route[]> {
    if (!this.sealed) {
      this.sealed = true;
      for (const p of this.pending) {
        const policy = mergePolicy(mergePolicy(DEFAULT_POLICY, this.options.policy), p.options.policy);
        const timeoutMs = p.options.timeoutMs ?? Math.floor(policy.visibilityTimeoutMs * 0.9);
        // A middleware may hand a copy of ctx down: only the router's own contexts can be aborted.
        const chain = [
          ...this.middleware,
          ...(p.options.middleware ?? []),
          timeout(timeoutMs, (ctx) => (ctx instanceof DeliveryContext ? ctx.abort() : undefined)),
        ];
        const fn = p.fn;
        const labels = { service: this.options.service, subscriber: this.subscriber, topic: p.def.topic };
        this.byTopic.set(p.def.topic, {
          def: p.def,
          handler: p.handler,
          policy,
          timeoutMs,
          run: compose(chain, async (ctx) => fn(ctx)),
          labels,
        });
      }
    }
    for (const r of this.byTopic.values()) await this.options.ledger.register(this.subscriber, r.def.topic, r.policy);
    // dlq_total is counted where dead letters are written (the ledger), whatever wrote them.
    if (this.options.metrics) countDeadLetters(this.options.metrics, this.options.service, this.subscriber, [this.options.ledger]);
    return this.routes();
  }

  routes(): readonly Route[] {
    return [...this.byTopic.values()];
  }

  /**
   * Runs one leased delivery to its ledger outcome. Never throws. `onHandled` is called exactly
   * once, when the handler (and the emitted-events sink) finished, before the ack or nack goes to
   * the ledger.
   */
  async dispatch(delivery: Delivery, onHandled?: () => void): Promise<DispatchOutcome> {
    const route = this.byTopic.get(delivery.topic);
    let ctx: DeliveryContext | undefined;
    let error: unknown;
    try {
      if (!route) throw new Error(`${this.subscriber} has no handler for ${delivery.topic}`);
      const version = route.def.version;
      // Parsed and validated at receipt by this process's transport: not again.
      let event = this.options.parsed?.take(delivery.topic, delivery.eventId, delivery.body, version);
      if (!event) {
        const parsed = parseEnvelope(delivery.body, { topic: delivery.topic, targetVersion: version });
        // Retrying cannot make it valid: dead-letter it now, do not count it toward the breaker.
        if (!parsed.ok) throw new PermanentError(`invalid envelope: ${parsed.reason}`, { code: 'invalid_envelope' });
        event = parsed.event;
      }
      ctx = new DeliveryContext(this.host, event, delivery, this.options.service, route.handler);
      await route.run(ctx);
      if (ctx.emitted.length > 0) {
        if (!this.options.onEmitted)
          throw new Error(`handler ${route.handler} emitted ${ctx.emitted.length} event(s) but the consumer has no onEmitted sink`);
        await this.options.onEmitted(ctx.emitted, ctx);
      }
    } catch (err) {
      error = err;
    }
    onHandled?.();
    const labels = route?.labels ?? { service: this.options.service, subscriber: this.subscriber, topic: delivery.topic };
    try {
      if (error === undefined) {
        const outcome = await this.acks.ack(delivery);
        if (outcome === 'stale')
          this.loggerFor(delivery, ctx).warn('ack refused: the lease expired while the handler ran; another instance may handle it again');
        else this.metrics?.processed.inc(labels);
        return outcome;
      }
      this.metrics?.failed.inc(labels);
      const permanent = permanentErrorOf(error);
      const message = permanent
        ? `permanent error (${permanent.code}): ${permanent.message}`
        : error instanceof Error
          ? error.message
          : (JSON.stringify(error) ?? 'undefined');
      const outcome = await this.options.ledger.nack(delivery, message, permanent ? { permanent: true, code: permanent.code } : {});
      if (outcome === 'dead-lettered') {
        this.loggerFor(delivery, ctx).error(
          { err: error, ...(permanent ? { code: permanent.code } : {}) },
          permanent ? 'permanent error: dead-lettered at once' : 'retry budget exhausted: dead-lettered',
        );
      }
      return outcome;
    } catch (err) {
      // The ledger is unreachable: the lease lapses and the message comes back after the visibility timeout.
      this.loggerFor(delivery, ctx).error({ err }, 'ack/nack failed; the message returns after its visibility timeout');
      return 'stale';
    }
  }

  /** The handler's logger when there was a handler, else one bound to the delivery. */
  private loggerFor(delivery: Delivery, ctx: DeliveryContext | undefined): Logger {
    return ctx
      ? ctx.log
      : this.log.child({ subscriber: this.subscriber, topic: delivery.topic, event_id: delivery.eventId, attempt: delivery.attempt });
  }
}

/** Logger and duplicate counter of the router's contexts (one object for all of them: no closures per delivery). */
class RouterHost implements ContextHost {
  constructor(
    private readonly router: { readonly log: Logger; readonly metrics: MessagingMetrics | undefined; readonly service: string },
  ) {}

  loggerOf(ctx: HandlerContext): Logger {
    return this.router.log.child({
      subscriber: ctx.subscriber,
      topic: ctx.topic,
      event_id: ctx.delivery.eventId,
      attempt: ctx.attempt,
      handler: ctx.handler,
      correlation_id: ctx.event.correlation_id,
    });
  }

  duplicateOf(ctx: HandlerContext): void {
    this.router.metrics?.duplicates.inc({ service: this.router.service, subscriber: ctx.subscriber, topic: ctx.topic });
  }
}
