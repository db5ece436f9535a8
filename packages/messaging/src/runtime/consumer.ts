import { events as definedEvents, toMqttTopic } from '@albergue/events';
import type { EventDefinition } from '@albergue/events';
import type { Logger } from '@albergue/platform';
import type { Registry } from 'prom-client';
import type { ServiceDeclaration, SubscriptionDeclaration, WildcardSubscriptionDeclaration } from '../declarations.js';
import { mqttFilterMatches, subscriberGroups, wildcardEvents } from '../declarations.js';
import { countDeadLetters, messagingMetrics } from '../metrics.js';
import type { MqttConnectionOptions } from '../mqtt/connect.js';
import { stableClientId } from '../mqtt/connect.js';
import { toOutgoing } from '../mqtt/outgoing.js';
import { MqttSubscriber } from '../mqtt/subscriber.js';
import type { MqttSubscriberOptions } from '../mqtt/subscriber.js';
import type { SubscriptionMode } from '../mqtt/subscription-mode.js';
import type { CircuitBreakerStore, DeadLetterStore, DeliveryLedger, SubscriptionPolicy } from '../ports/ledger.js';
import { DEFAULT_POLICY } from '../ports/ledger.js';
import type { Publisher } from '../ports/publisher.js';
import { publishAll } from '../ports/publisher.js';
import type { Middleware } from '../router/middleware.js';
import { logging, metrics as metricsMiddleware } from '../router/middleware.js';
import type { EmittedSink, Handler, RouteOptions } from '../router/router.js';
import { Router } from '../router/router.js';
import { ParsedEnvelopes } from '../router/parsed-envelopes.js';
import type { WorkerOptions } from '../router/worker.js';
import { Worker } from '../router/worker.js';

export interface ConsumerOptions {
  readonly declaration: ServiceDeclaration;
  /** Consumer group to run; default the service name. Only its declared subscriptions are served. */
  readonly subscriber?: string;
  /** MQTT connection; clientId defaults to `albergue-<subscriber>-<instanceId>`. */
  readonly mqtt: Omit<MqttConnectionOptions, 'clientId'> & { readonly clientId?: string };
  /**
   * `fanout` (default): every instance receives every message of the group and records it (the
   * ledger dedups). `shared`: MQTT 5 shared subscriptions, group = the subscriber name: each message
   * reaches one instance and is recorded once (needs a broker with them; refused at start otherwise).
   * Shared mode keeps a persistent session per instance (stable `instanceId`): what the broker
   * assigned to an instance that died is delivered when it comes back under the same id.
   */
  readonly subscriptionMode?: SubscriptionMode;
  /** Distinguishes instances of one subscriber (stable across restarts); default $INSTANCE_ID or 0. */
  readonly instanceId?: string;
  readonly ledger: DeliveryLedger;
  readonly deadLetters: DeadLetterStore;
  /** Only read by the breaker state gauge. */
  readonly breakers?: CircuitBreakerStore;
  readonly logger?: Logger;
  readonly metrics?: Registry;
  /** Default policy of every subscription; a declaration's own policy overrides it. */
  readonly policy?: Partial<SubscriptionPolicy>;
  /** Where emitted events go; default: published directly with `publisher`, if given. */
  readonly onEmitted?: EmittedSink;
  readonly publisher?: Publisher;
  /** Extra middleware, inside logging and metrics. */
  readonly middleware?: readonly Middleware[];
  /** Hook for the Postgres inbox: the innermost middleware, wrapping the handler (and its timeout). */
  readonly inbox?: Middleware;
  readonly worker?: WorkerOptions;
  readonly batch?: MqttSubscriberOptions['batch'];
  readonly backpressure?: MqttSubscriberOptions['backpressure'];
  /**
   * A consumer that makes no progress for this long while messages wait (nothing recorded, or
   * leasing failing) is unhealthy; default the longest visibility timeout of its subscriptions.
   */
  readonly stallAfterMs?: number;
  /**
   * Envelopes parsed at receipt kept for the router, so a message this instance received is not
   * parsed and validated again when it is handled (default 10,000; 0 turns it off).
   */
  readonly parsedCacheSize?: number;
}

export interface Consumer {
  readonly subscriber: string;
  readonly router: Router;
  readonly transport: MqttSubscriber;
  readonly worker: Worker;
  /** Registers the handler of a declared subscription; refuses one the declaration does not list. */
  on<D extends EventDefinition>(def: D, handler: string, fn: Handler<D>, options?: Omit<RouteOptions, 'policy'>): Consumer;
  /**
   * Registers the handler of the declared wildcard subscription (`subscribesAll`): one function for
   * every event it covers (each defined event matching the filter, minus `except`).
   */
  onAll(handler: string, fn: Handler, options?: Omit<RouteOptions, 'policy'>): Consumer;
  /** The events the wildcard subscription of this consumer covers (empty without one). */
  readonly wildcardCovers: readonly EventDefinition[];
  /** Refuses to start while a declared handler is missing; registers policies, starts workers, then subscribes. */
  start(): Promise<void>;
  /** Records and acks what was received, stops leasing, waits for handlers, disconnects. */
  close(): Promise<void>;
  /**
   * Whether the consumer can make progress: its MQTT connection is up (else the broker's reason,
   * e.g. `mqtt: connack refused: bad username or password`), and neither recording nor leasing has
   * been stuck for longer than `stallAfterMs` while messages wait. For `/health`.
   */
  health(): ConsumerHealth;
}

export interface ConsumerHealth {
  readonly ok: boolean;
  readonly reason?: string;
}

/** Builds transport + router + worker for one subscriber of a service from its declaration. */
export function createConsumer(o: ConsumerOptions): Consumer {
  const { declaration: decl } = o;
  const subscriber = o.subscriber ?? decl.service;
  const subscriptions = decl.subscribes.filter((s) => (s.subscriber ?? decl.service) === subscriber);
  const wildcard: WildcardSubscriptionDeclaration | undefined =
    decl.subscribesAll && (decl.subscribesAll.subscriber ?? decl.service) === subscriber ? decl.subscribesAll : undefined;
  if (subscriptions.length === 0 && !wildcard) throw new Error(`${decl.service} declares no subscriptions for subscriber ${subscriber}`);
  // An explicit subscription of the same group wins over the wildcard for its topic.
  const explicitTopics = new Set(subscriptions.map((s) => s.event.topic));
  const covered = wildcard ? wildcardEvents(wildcard, definedEvents.definitions()).filter((d) => !explicitTopics.has(d.topic)) : [];
  // One MQTT subscription for the filter; explicit topics it does not cover are subscribed one by one.
  const exactTopics = subscriptions.filter((s) => !wildcard || !mqttFilterMatches(wildcard.filter, toMqttTopic(s.event.topic)));
  const logger = o.logger?.child({ subscriber });
  const onEmitted = o.onEmitted ?? (o.publisher ? publishDirectly(o.publisher) : undefined);
  const parsed = (o.parsedCacheSize ?? 10_000) > 0 ? new ParsedEnvelopes(o.parsedCacheSize ?? 10_000) : undefined;
  const router = new Router({
    service: decl.service,
    subscriber,
    ledger: o.ledger,
    ...(logger ? { logger } : {}),
    ...(o.metrics ? { metrics: o.metrics } : {}),
    ...(o.policy ? { policy: o.policy } : {}),
    ...(onEmitted ? { onEmitted } : {}),
    ...(parsed ? { parsed } : {}),
  });
  router.use(...(o.metrics ? [metricsMiddleware(o.metrics)] : []), logging, ...(o.middleware ?? []), ...(o.inbox ? [o.inbox] : []));
  const worker = new Worker(router, o.ledger, { ...o.worker, ...(logger ? { logger } : {}) });
  const transport = new MqttSubscriber({
    connection: { ...o.mqtt, clientId: o.mqtt.clientId ?? stableClientId(subscriber, o.instanceId) },
    service: decl.service,
    subscriber,
    topics: [
      ...exactTopics.map((s) => ({ topic: s.event.topic, version: s.event.version })),
      // Covered by the filter: read at the version published (no upcast), recorded under their own topic.
      ...subscriptions
        .filter((s) => !exactTopics.includes(s))
        .map((s) => ({ topic: s.event.topic, version: s.event.version, viaFilter: true })),
      ...covered.map((d) => ({ topic: d.topic, version: d.version, viaFilter: true })),
    ],
    ...(wildcard ? { filters: [wildcard.filter], skip: (wildcard.except ?? []).map((d) => d.topic) } : {}),
    ...(o.subscriptionMode ? { mode: o.subscriptionMode } : {}),
    ledger: o.ledger,
    deadLetters: o.deadLetters,
    ...(o.batch ? { batch: o.batch } : {}),
    ...(o.backpressure ? { backpressure: o.backpressure } : {}),
    ...(parsed ? { parsed } : {}),
    ...(logger ? { logger } : {}),
    ...(o.metrics ? { metrics: o.metrics } : {}),
    onRecorded: () => worker.wake(),
  });
  const registered = new Set<SubscriptionDeclaration | WildcardSubscriptionDeclaration>();
  const stallAfterMs = (): number =>
    o.stallAfterMs ??
    Math.max(
      0,
      ...router.routes().map((r) => r.policy.visibilityTimeoutMs),
      router.routes().length === 0 ? DEFAULT_POLICY.visibilityTimeoutMs : 0,
    );
  let unwatch: (() => void) | undefined;

  const consumer: Consumer = {
    subscriber,
    router,
    transport,
    worker,
    on(def, handler, fn, options = {}) {
      const s = subscriptions.find((x) => x.event.topic === def.topic && x.handler === handler);
      if (!s)
        throw new Error(
          `${decl.service} does not declare handler ${handler} for ${def.topic} (subscriber ${subscriber}); add it to the service declaration`,
        );
      router.on(def, handler, fn, { ...options, ...(s.policy ? { policy: s.policy } : {}) });
      registered.add(s);
      return consumer;
    },
    onAll(handler, fn, options = {}) {
      if (!wildcard || wildcard.handler !== handler)
        throw new Error(
          `${decl.service} does not declare the wildcard handler ${handler} (subscriber ${subscriber}); add it to subscribesAll in the service declaration`,
        );
      if (registered.has(wildcard)) throw new Error(`${subscriber} already has the wildcard handler ${handler}`);
      for (const def of covered) router.on(def, handler, fn, { ...options, ...(wildcard.policy ? { policy: wildcard.policy } : {}) });
      registered.add(wildcard);
      return consumer;
    },
    wildcardCovers: covered,
    async start() {
      const missing: { handler: string }[] = subscriptions.filter((s) => !registered.has(s));
      if (wildcard && !registered.has(wildcard)) missing.push(wildcard);
      if (missing.length > 0)
        throw new Error(`${decl.service}: declared handler(s) without implementation: ${missing.map((s) => s.handler).join(', ')}`);
      await router.start();
      if (o.metrics) {
        // Invalid and unrecordable messages are written to the DLQ store (the same emitter as the ledger's in both adapters: counted once).
        countDeadLetters(o.metrics, decl.service, subscriber, [o.ledger, o.deadLetters]);
        unwatch = messagingMetrics(o.metrics).watch({
          service: decl.service,
          subscriber,
          ledger: o.ledger,
          deadLetters: o.deadLetters,
          ...(o.breakers ? { breakers: o.breakers } : {}),
        });
      }
      worker.start();
      await transport.start();
    },
    async close() {
      await transport.close();
      await worker.close();
      unwatch?.();
    },
    health() {
      const limit = stallAfterMs();
      const t = transport.health(limit);
      if (!t.ok) return t;
      return worker.health(limit);
    },
  };
  return consumer;
}

/** Emitted events published straight to MQTT (use the outbox instead where the handler writes Postgres). */
export function publishDirectly(publisher: Publisher): EmittedSink {
  return async (events) => publishAll(publisher, events.map(toOutgoing));
}

export interface Messaging {
  /** One consumer per consumer group the declaration uses. */
  readonly consumers: readonly Consumer[];
  on<D extends EventDefinition>(def: D, handler: string, fn: Handler<D>, options?: Omit<RouteOptions, 'policy'>): Messaging;
  /** Registers the declared wildcard handler (`subscribesAll`). */
  onAll(handler: string, fn: Handler, options?: Omit<RouteOptions, 'policy'>): Messaging;
  start(): Promise<void>;
  close(): Promise<void>;
  /** The first unhealthy consumer's reason, or ok. */
  health(): ConsumerHealth;
}

/** Every consumer of a service's declaration, wired from it: a service calls `on(...)` per declared handler, then `start()`. */
export function createMessaging(o: Omit<ConsumerOptions, 'subscriber'>): Messaging {
  const groups = subscriberGroups(o.declaration);
  const consumers = groups.map((subscriber) => createConsumer({ ...o, subscriber }));
  const messaging: Messaging = {
    consumers,
    on(def, handler, fn, options) {
      const groupOf = o.declaration.subscribes.find((s) => s.event.topic === def.topic && s.handler === handler);
      const c = consumers.find((x) => x.subscriber === (groupOf?.subscriber ?? o.declaration.service)) ?? consumers[0];
      if (!c) throw new Error(`${o.declaration.service} declares no subscriptions`);
      c.on(def, handler, fn, options);
      return messaging;
    },
    onAll(handler, fn, options) {
      const w = o.declaration.subscribesAll;
      const c = consumers.find((x) => x.subscriber === (w?.subscriber ?? o.declaration.service));
      if (!w || !c) throw new Error(`${o.declaration.service} declares no wildcard subscription (subscribesAll)`);
      c.onAll(handler, fn, options);
      return messaging;
    },
    async start() {
      for (const c of consumers) await c.start();
    },
    async close() {
      await Promise.all(consumers.map((c) => c.close()));
    },
    health() {
      const reasons = consumers
        .map((c) => c.health())
        .filter((h) => !h.ok)
        .map((h) => h.reason ?? 'not healthy');
      return reasons.length === 0 ? { ok: true } : { ok: false, reason: reasons.join('; ') };
    },
  };
  return messaging;
}
