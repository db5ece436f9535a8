import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import type { BreakerState, CircuitBreakerStore, DeadLetterStore, DeliveryLedger } from './ports/ledger';

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

/**
 * The messaging metrics of one registry, created once (a second call returns the same objects, so
 * the publisher, the outbox relay and every consumer of a process can share them).
 */
export function messagingMetrics(registry: Registry): MessagingMetrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const watched = new Set<WatchedStores>();
  const registers = [registry];
  const m: MessagingMetrics = {
    published: new Counter({ name: 'events_published_total', help: 'Events acknowledged by the broker (PUBACK).', labelNames: ['service', 'topic'], registers }),
    processed: new Counter({ name: 'events_processed_total', help: 'Events handled successfully and acked in the ledger.', labelNames: LABELS, registers }),
    failed: new Counter({ name: 'events_failed_total', help: 'Handler attempts that failed (each retry counts).', labelNames: LABELS, registers }),
    deadLettered: new Counter({ name: 'dlq_total', help: 'Messages moved to the dead-letter queue (exhausted or invalid).', labelNames: LABELS, registers }),
    duplicates: new Counter({ name: 'events_duplicate_total', help: 'Deliveries recognised as duplicates by event_id and skipped.', labelNames: LABELS, registers }),
    handlerSeconds: new Histogram({
      name: 'event_handler_duration_seconds',
      help: 'Handler run time, by outcome (success / failure).',
      labelNames: [...LABELS, 'outcome'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers,
    }),
    watch(stores) {
      watched.add(stores);
      return () => watched.delete(stores);
    },
  };
  new Gauge({
    name: 'dlq_depth',
    help: 'Entries in mqtt:dlq:<topic>.',
    labelNames: ['topic'],
    registers,
    async collect() {
      this.reset();
      const stores = new Set([...watched].map((w) => w.deadLetters).filter((s) => s !== undefined));
      for (const s of stores) for (const t of await s.topics()) this.set({ topic: t.topic }, t.depth);
    },
  });
  new Gauge({
    name: 'ledger_depth',
    help: 'Messages waiting in the delivery ledger (ready, scheduled or leased).',
    labelNames: LABELS,
    registers,
    async collect() {
      this.reset();
      for (const w of watched) {
        if (!w.ledger) continue;
        for (const [topic, n] of Object.entries(await w.ledger.depth(w.subscriber))) this.set({ service: w.service, subscriber: w.subscriber, topic }, n);
      }
    },
  });
  new Gauge({
    name: 'circuit_breaker_state',
    help: 'Breaker cb:<subscriber>:<topic>: 0 closed, 1 half-open, 2 open.',
    labelNames: ['subscriber', 'topic'],
    registers,
    async collect() {
      this.reset();
      const stores = new Set([...watched].map((w) => w.breakers).filter((s) => s !== undefined));
      for (const s of stores) for (const b of await s.list()) this.set({ subscriber: b.subscriber, topic: b.topic }, BREAKER_VALUE[b.state]);
    },
  });
  byRegistry.set(registry, m);
  return m;
}
