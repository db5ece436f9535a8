import { eventsPublishedCounter } from '@albergue/messaging';
import { Counter, Gauge } from 'prom-client';
import type { Registry } from '@albergue/platform';

/** The broker's Prometheus metrics (ARCHITECTURE §5 names where they apply). */
export class BrokerMetrics {
  readonly published: Counter<'service' | 'topic'>;
  readonly refusals: Counter<'kind'>;
  readonly recorded: Counter<'topic' | 'outcome'>;
  readonly recordFailures: Counter<'topic'>;

  constructor(
    readonly registry: Registry,
    sources: { connectedClients: () => number; dlqDepth: () => Promise<{ topic: string; depth: number }[]> },
  ) {
    // messaging owns events_published_total; the HTTP publish path counts into it by topic.
    this.published = eventsPublishedCounter(registry);
    this.refusals = new Counter({
      name: 'mqtt_refusals_total',
      help: 'MQTT refusals by kind: connect (credentials), client_id (id of another account), publish, subscribe (ACL), packet_size (over the limit)',
      labelNames: ['kind'],
      registers: [registry],
    });
    this.recorded = new Counter({
      name: 'http_consumer_messages_total',
      help: 'MQTT messages fed into the ledger for HTTP subscribers',
      labelNames: ['topic', 'outcome'],
      registers: [registry],
    });
    this.recordFailures = new Counter({
      name: 'http_consumer_record_failures_total',
      help: 'Ledger writes for HTTP subscribers that failed (the message is held, not acknowledged, and retried)',
      labelNames: ['topic'],
      registers: [registry],
    });
    new Gauge({
      name: 'mqtt_connected_clients',
      help: 'MQTT clients connected to this broker instance',
      registers: [registry],
      collect() {
        this.set(sources.connectedClients());
      },
    });
    new Gauge({
      name: 'dlq_depth',
      help: 'Dead letters waiting per topic',
      labelNames: ['topic'],
      registers: [registry],
      async collect() {
        this.reset();
        try {
          for (const { topic, depth } of await sources.dlqDepth()) this.set({ topic }, depth);
        } catch {
          this.reset(); // Redis unreachable: /health reports it; the gauge stays empty.
        }
      },
    });
  }
}
