import type { CircuitBreakerStore, DeliveryLedger, DlqOperations } from '@albergue/messaging';
import type { PublishResult } from '../../application/publish-event.js';
import type { HttpConsumerFeed } from '../../application/http-consumers.js';
import type { ReceiptSigner } from '../../application/receipts.js';
import type { BrokerMetrics } from '../../application/metrics.js';
import type { RetainedMessage } from '../mqtt/aedes-broker.js';

export interface HealthReport {
  readonly ready: boolean;
  readonly mqtt: 'up' | 'down';
  readonly redis: 'up' | 'down' | 'not-configured';
  /** Why the broker is not ready (absent when ready). */
  readonly reason?: string;
}

/** What the HTTP API needs from the rest of the broker. */
export interface HttpApiDeps {
  readonly adminToken: string;
  readonly bodyLimit?: number;
  publish(input: unknown, options: { retain: boolean }): Promise<PublishResult>;
  retained(filter: string): Promise<RetainedMessage[]>;
  /** Removes the retained messages matching `filter` without publishing; returns their MQTT topics. */
  clearRetained(filter: string): Promise<string[]>;
  readonly consumers: HttpConsumerFeed;
  readonly ledger: DeliveryLedger;
  readonly receipts: ReceiptSigner;
  readonly dlq: DlqOperations;
  readonly breakers: CircuitBreakerStore;
  /** The subscribers the services declare for a logical topic (explicit and wildcard subscriptions). */
  subscribersOf(topic: string): readonly string[];
  health(): Promise<HealthReport>;
  readonly metrics: BrokerMetrics;
}
