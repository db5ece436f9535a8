import { parseEnvelope } from '@albergue/events';
import type { EventDefinition, EventEnvelope } from '@albergue/events';
import { createLogger } from '@albergue/platform';
import type { Logger } from '@albergue/platform';
import type { Registry } from 'prom-client';
import { mergePolicy } from '../ledger/policy';
import type { MessagingMetrics } from '../metrics';
import { messagingMetrics } from '../metrics';
import type { Delivery, DeliveryLedger, SubscriptionPolicy } from '../ports/ledger';
import { DEFAULT_POLICY } from '../ports/ledger';
import type { HandlerContext } from './context';
import { createContext } from './context';
import type { Middleware, Next } from './middleware';
import { compose, timeout } from './middleware';
import { AckBatcher } from './ack-batcher';

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
  private readonly aborts = new WeakMap<HandlerContext, AbortController>();
  private readonly acks: AckBatcher;
  private sealed = false;

  constructor(readonly options: RouterOptions) {
    this.log = options.logger ?? createLogger(options.service, { level: 'silent' });
    this.metrics = options.metrics ? messagingMetrics(options.metrics) : undefined;
    this.acks = new AckBatcher(options.ledger);
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
        const chain = [...this.middleware, ...(p.options.middleware ?? []), timeout(timeoutMs, (ctx) => this.aborts.get(ctx)?.abort())];
        const fn = p.fn;
        this.byTopic.set(p.def.topic, { def: p.def, handler: p.handler, policy, timeoutMs, run: compose(chain, async (ctx) => fn(ctx)) });
      }
    }
    for (const r of this.byTopic.values()) await this.options.ledger.register(this.subscriber, r.def.topic, r.policy);
    return this.routes();
  }

  routes(): readonly Route[] {
    return [...this.byTopic.values()];
  }

  /** Runs one leased delivery to its ledger outcome. Never throws. */
  async dispatch(delivery: Delivery): Promise<DispatchOutcome> {
    const { service, subscriber, ledger } = this.options;
    const labels = { service, subscriber, topic: delivery.topic };
    const route = this.byTopic.get(delivery.topic);
    const bound = { subscriber, topic: delivery.topic, event_id: delivery.eventId, attempt: delivery.attempt };
    let log: Logger | undefined;
    let logger = (): Logger => (log ??= this.log.child(bound));
    let error: unknown;
    if (!route) {
      error = new Error(`${subscriber} has no handler for ${delivery.topic}`);
    } else {
      const parsed = parseEnvelope(delivery.body, { topic: delivery.topic, targetVersion: route.def.version });
      if (!parsed.ok) {
        error = new Error(`invalid envelope: ${parsed.reason}`);
      } else {
        const handler = route.handler;
        const correlation = parsed.event.correlation_id;
        logger = () => (log ??= this.log.child({ ...bound, handler, correlation_id: correlation }));
        const abort = new AbortController();
        const ctx = createContext({
          event: parsed.event,
          delivery,
          service,
          handler: route.handler,
          log: logger,
          signal: abort.signal,
          onDuplicate: () => this.metrics?.duplicates.inc(labels),
        });
        this.aborts.set(ctx, abort);
        try {
          await route.run(ctx);
          if (ctx.emitted.length > 0) {
            if (!this.options.onEmitted) throw new Error(`handler ${route.handler} emitted ${ctx.emitted.length} event(s) but the consumer has no onEmitted sink`);
            await this.options.onEmitted(ctx.emitted, ctx);
          }
        } catch (err) {
          error = err;
        }
      }
    }
    try {
      if (error === undefined) {
        const outcome = await this.acks.ack(delivery);
        if (outcome === 'stale') logger().warn('ack refused: the lease expired while the handler ran; another instance may handle it again');
        else this.metrics?.processed.inc(labels);
        return outcome;
      }
      this.metrics?.failed.inc(labels);
      const message = error instanceof Error ? error.message : JSON.stringify(error) ?? "undefined";
      const outcome = await ledger.nack(delivery, message);
      if (outcome === 'dead-lettered') {
        this.metrics?.deadLettered.inc(labels);
        logger().error({ err: error }, 'retry budget exhausted: dead-lettered');
      }
      return outcome;
    } catch (err) {
      // The ledger is unreachable: the lease lapses and the message comes back after the visibility timeout.
      logger().error({ err }, 'ack/nack failed; the message returns after its visibility timeout');
      return 'stale';
    }
  }
}
