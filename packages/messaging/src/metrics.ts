import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import type { BreakerState, CircuitBreakerStore, DeadLetterNotice, DeadLetterStore, DeliveryLedger } from './ports/ledger.js';

const LABELS = ['service', 'subscriber', 'topic'] as const;
const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

/** Stores whose state the gauges read at scrape time. */
export interface WatchedStores {
  readonly service: string;
  readonly subscriber: string;
  readonly ledger?: DeliveryLedger;
  readonly deadLetters?: DeadLetterStore;
  readonly breakers?: CircuitBreakerStore;
}

export interface MessagingMetrics {
  readonly published: Counter<'service' | 'topic'>;
  readonly processed: Counter<(typeof LABELS)[number]>;
  readonly failed: Counter<(typeof LABELS)[number]>;
  readonly deadLettered: Counter<(typeof LABELS)[number]>;
  readonly duplicates: Counter<(typeof LABELS)[number]>;
  readonly handlerSeconds: Histogram<(typeof LABELS)[number] | 'outcome'>;
  /** Adds stores to the DLQ depth, ledger depth and breaker state gauges; returns the unwatch function. */
  watch(stores: WatchedStores): () => void;
}

const byRegistry = new WeakMap<Registry, MessagingMetrics>();

type CounterConfig<T extends string> = ConstructorParameters<typeof Counter<T>>[0];

/**
 * The counter `config.name` of `registry`: the one already registered under that name, or a new one.
 * Every component of a process that counts one metric asks here, so they share one counter instead
 * of the second registration throwing. A metric of another kind, or a counter with other labels,
 * under that name is an error: it has a second owner, which must ask here instead.
 */
export function getOrCreateCounter<T extends string>(registry: Registry, config: CounterConfig<T>): Counter<T> {
  const existing = registry.getSingleMetric(config.name);
  if (!existing) return new Counter<T>({ ...config, registers: [registry] });
  if (!(existing instanceof Counter)) {
    throw new Error(`metric ${config.name} is already registered on this registry as a ${existing.constructor.name}, not a Counter`);
  }
  const known = [...((existing as unknown as { labelNames?: readonly string[] }).labelNames ?? [])].sort();
  const wanted = [...(config.labelNames ?? [])].sort();
  if (known.join() !== wanted.join()) {
    throw new Error(
      `metric ${config.name} is already registered on this registry with labels [${known.join(', ')}], not [${wanted.join(', ')}]`,
    );
  }
  return existing;
}

/**
 * `events_published_total{service, topic}`: events the broker acknowledged (PUBACK), the one owner
 * of that metric. Get-or-create on `registry`: the outbox relay (by topic) and the broker's HTTP
 * publish path count into it.
 */
export function eventsPublishedCounter(registry: Registry): Counter<'service' | 'topic'> {
  return getOrCreateCounter(registry, {
    name: 'events_published_total',
    help: 'Events acknowledged by the broker (PUBACK).',
    labelNames: ['service', 'topic'] as const,
  });
}

function getOrCreateGauge<T extends string>(registry: Registry, config: ConstructorParameters<typeof Gauge<T>>[0]): void {
  if (!registry.getSingleMetric(config.name)) new Gauge<T>({ ...config, registers: [registry] });
}

function getOrCreateHistogram<T extends string>(registry: Registry, config: ConstructorParameters<typeof Histogram<T>>[0]): Histogram<T> {
  const existing = registry.getSingleMetric(config.name);
  if (!existing) return new Histogram<T>({ ...config, registers: [registry] });
  if (!(existing instanceof Histogram))
    throw new Error(`metric ${config.name} is already registered on this registry as a ${existing.constructor.name}, not a Histogram`);
  return existing;
}

/**
 * The messaging metrics of one registry, created once (a second call returns the same objects, so
 * the publisher, the outbox relay and every consumer of a process can share them). Each metric is
 * get-or-create by name: one registered earlier by another component is reused, not registered twice.
 */
export function messagingMetrics(registry: Registry): MessagingMetrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const watched = new Set<WatchedStores>();
  const m: MessagingMetrics = {
    published: eventsPublishedCounter(registry),
    processed: getOrCreateCounter(registry, {
      name: 'events_processed_total',
      help: 'Events handled successfully and acked in the ledger.',
      labelNames: LABELS,
    }),
    failed: getOrCreateCounter(registry, {
      name: 'events_failed_total',
      help: 'Handler attempts that failed (each retry counts).',
      labelNames: LABELS,
    }),
    deadLettered: getOrCreateCounter(registry, {
      name: 'dlq_total',
      help: 'Dead letters written, whatever made them (max attempts, lapsed last lease, permanent error, invalid or unrecordable message, HTTP nack).',
      labelNames: LABELS,
    }),
    duplicates: getOrCreateCounter(registry, {
      name: 'events_duplicate_total',
      help: 'Deliveries recognised as duplicates by event_id and skipped.',
      labelNames: LABELS,
    }),
    handlerSeconds: getOrCreateHistogram(registry, {
      name: 'event_handler_duration_seconds',
      help: 'Handler run time, by outcome (success / failure).',
      labelNames: [...LABELS, 'outcome'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    }),
    watch(stores) {
      watched.add(stores);
      return () => watched.delete(stores);
    },
  };
  getOrCreateGauge(registry, {
    name: 'dlq_depth',
    help: 'Entries in mqtt:dlq:<topic>.',
    labelNames: ['topic'],
    async collect() {
      this.reset();
      const stores = new Set([...watched].map((w) => w.deadLetters).filter((s) => s !== undefined));
      for (const s of stores) for (const t of await s.topics()) this.set({ topic: t.topic }, t.depth);
    },
  });
  getOrCreateGauge(registry, {
    name: 'ledger_depth',
    help: 'Messages waiting in the delivery ledger (ready, scheduled or leased).',
    labelNames: LABELS,
    async collect() {
      this.reset();
      for (const w of watched) {
        if (!w.ledger) continue;
        for (const [topic, n] of Object.entries(await w.ledger.depth(w.subscriber)))
          this.set({ service: w.service, subscriber: w.subscriber, topic }, n);
      }
    },
  });
  getOrCreateGauge(registry, {
    name: 'circuit_breaker_state',
    help: 'Breaker cb:<subscriber>:<topic>: 0 closed, 1 half-open, 2 open.',
    labelNames: ['subscriber', 'topic'],
    async collect() {
      this.reset();
      const stores = new Set([...watched].map((w) => w.breakers).filter((s) => s !== undefined));
      for (const s of stores)
        for (const b of await s.list()) this.set({ subscriber: b.subscriber, topic: b.topic }, BREAKER_VALUE[b.state]);
    },
  });
  byRegistry.set(registry, m);
  return m;
}

/** Something dead letters are written through: a ledger or DLQ store (both adapters expose their shared emitter). */
export interface DeadLetterSource {
  onDeadLetter?(listener: (notice: DeadLetterNotice) => void): () => void;
  /** The emitter shared by a ledger and its DLQ store: the same one is counted once. */
  readonly deadLetterEvents?: object;
}

const counted = new WeakMap<Registry, WeakMap<object, Set<string>>>();

/**
 * Counts `dlq_total{service, subscriber, topic}` where dead letters are written: every dead letter
 * of `subscriber` written through these sources (the ledger's max attempts, lapsed last leases and
 * permanent errors, the DLQ store's invalid and unrecordable messages), once each, however many
 * components of one process ask for it (a ledger and its DLQ store share one emitter).
 */
export function countDeadLetters(
  registry: Registry,
  service: string,
  subscriber: string,
  sources: readonly (DeadLetterSource | undefined)[],
): void {
  const { deadLettered } = messagingMetrics(registry);
  let bySource = counted.get(registry);
  if (!bySource) {
    bySource = new WeakMap();
    counted.set(registry, bySource);
  }
  const seen = new Set<object>();
  for (const source of sources) {
    if (!source?.onDeadLetter) continue;
    const identity = source.deadLetterEvents ?? source;
    if (seen.has(identity)) continue;
    seen.add(identity);
    let subs = bySource.get(identity);
    if (!subs) {
      subs = new Set();
      bySource.set(identity, subs);
    }
    if (subs.has(subscriber)) continue;
    subs.add(subscriber);
    source.onDeadLetter((n) => {
      if (n.subscriber === subscriber) deadLettered.inc({ service, subscriber, topic: n.topic });
    });
  }
}
