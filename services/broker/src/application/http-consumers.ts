import type { DeadLetterStore, DeliveryLedger, SubscriptionPolicy } from '@albergue/messaging';
import { DEFAULT_POLICY, redeliveryHorizonMs } from '@albergue/messaging';
import { events, fromMqttTopic, parseEnvelope, toMqttTopic } from '@albergue/events';
import { randomUUID } from 'node:crypto';
import { isValidFilter, topicMatches } from '../domain/topic-filter';
import type { HttpSubscription, HttpSubscriptionRegistry } from './http-subscriptions';
import type { Logger } from '@albergue/platform';

/** A packet as the broker hands it to an in-process subscriber. */
export interface BrokerPacket {
  readonly topic: string;
  readonly payload: Buffer | string;
}

/** The part of the MQTT broker the HTTP consumers need: an in-process subscription with back-pressure. */
export interface InternalSubscriber {
  subscribe(filter: string, deliver: (packet: BrokerPacket) => Promise<void>): Promise<() => Promise<void>>;
}

export class SubscriptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SubscriptionError';
  }
}

export const SUBSCRIBER_NAME = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

export interface RegisterInput {
  readonly subscriber: string;
  /** MQTT filter (`albergue/booking/#`) or logical topic (`albergue.booking.v1.BookingReserved`). */
  readonly topicFilter: string;
  readonly maxAttempts?: number;
  readonly visibilityTimeoutMs?: number;
  readonly retryDelayMs?: number;
  readonly maxRetryDelayMs?: number;
}

/**
 * Feeds matching MQTT messages into the delivery ledger for registered HTTP subscribers. Each
 * registration covers the known event topics its filter matches (the ledger's unit); a message
 * that is not a valid envelope for its topic goes to the DLQ with the reason. Several broker
 * instances may feed the same subscriber: the ledger records each event_id once.
 */
export class HttpConsumerFeed {
  private readonly active = new Map<string, () => Promise<void>>();
  private readonly subscriptions = new Map<string, HttpSubscription>();

  constructor(
    private readonly deps: {
      readonly ledger: DeliveryLedger;
      readonly deadLetters: DeadLetterStore;
      readonly registry: HttpSubscriptionRegistry;
      readonly broker: InternalSubscriber;
      readonly logger: Logger;
      readonly onRecorded?: (topic: string, outcome: 'recorded' | 'duplicate' | 'invalid') => void;
    },
  ) {}

  /** Re-subscribes every registration stored in the registry (call at start). */
  async restore(): Promise<number> {
    const all = await this.deps.registry.list();
    for (const s of all) await this.activate(s);
    return all.length;
  }

  async register(input: RegisterInput): Promise<{ subscription: HttpSubscription; topics: string[] }> {
    if (!SUBSCRIBER_NAME.test(input.subscriber)) {
      throw new SubscriptionError(`subscriber "${input.subscriber}" must match ${SUBSCRIBER_NAME.source} (lowercase letters, digits, _ . -)`);
    }
    const filter = input.topicFilter.includes('/') || !input.topicFilter.startsWith('albergue.') ? input.topicFilter : toMqttTopic(input.topicFilter);
    if (!isValidFilter(filter)) throw new SubscriptionError(`"${input.topicFilter}" is not a valid MQTT topic filter`);
    const topics = matchingTopics(filter);
    if (topics.length === 0) throw new SubscriptionError(`topic filter "${filter}" matches no known event topic (e.g. albergue/booking/# or albergue/booking/v1/BookingReserved)`);
    const existing = this.subscriptions.get(key(input.subscriber, filter));
    const subscription: HttpSubscription = {
      subscriber: input.subscriber,
      filter,
      maxAttempts: input.maxAttempts ?? DEFAULT_POLICY.maxAttempts,
      visibilityTimeoutMs: input.visibilityTimeoutMs ?? DEFAULT_POLICY.visibilityTimeoutMs,
      retryDelayMs: input.retryDelayMs ?? DEFAULT_POLICY.backoff.initialMs,
      maxRetryDelayMs: input.maxRetryDelayMs ?? Math.max(input.retryDelayMs ?? 0, DEFAULT_POLICY.backoff.maxMs),
      createdAt: existing?.createdAt ?? new Date().toISOString(),
    };
    if (subscription.maxRetryDelayMs < subscription.retryDelayMs) {
      throw new SubscriptionError(`max_retry_delay_ms (${subscription.maxRetryDelayMs}) must be at least retry_delay_ms (${subscription.retryDelayMs})`);
    }
    await this.activate(subscription);
    await this.deps.registry.save(subscription);
    return { subscription, topics };
  }

  /** Registered subscriptions of this instance. */
  list(): HttpSubscription[] {
    return [...this.subscriptions.values()];
  }

  isRegistered(subscriber: string): boolean {
    for (const s of this.subscriptions.values()) if (s.subscriber === subscriber) return true;
    return false;
  }

  /** Stops feeding (the registrations stay stored). */
  async close(): Promise<void> {
    const stops = [...this.active.values()];
    this.active.clear();
    for (const stop of stops) await stop();
  }

  private async activate(s: HttpSubscription): Promise<void> {
    const policy = policyOf(s);
    for (const topic of matchingTopics(s.filter)) await this.deps.ledger.register(s.subscriber, topic, policy);
    const k = key(s.subscriber, s.filter);
    this.subscriptions.set(k, s);
    if (this.active.has(k)) return;
    const stop = await this.deps.broker.subscribe(s.filter, (packet) => this.feed(s.subscriber, packet));
    this.active.set(k, stop);
  }

  private async feed(subscriber: string, packet: BrokerPacket): Promise<void> {
    const topic = fromMqttTopic(packet.topic);
    const body = typeof packet.payload === 'string' ? packet.payload : packet.payload.toString('utf8');
    const parsed = parseEnvelope(body, { topic });
    if (!parsed.ok) {
      const now = new Date().toISOString();
      await this.deps.deadLetters.add({
        id: randomUUID(), topic, subscriber, body, reason: 'invalid_envelope', attempts: 0,
        errors: [{ attempt: 0, at: now, message: parsed.reason }],
        firstFailureAt: now, lastFailureAt: now, deadLetteredAt: now,
      });
      this.deps.logger.warn({ subscriber, topic, reason: parsed.reason }, 'invalid envelope sent to the DLQ');
      this.deps.onRecorded?.(topic, 'invalid');
      return;
    }
    const [outcome] = await this.deps.ledger.record(subscriber, [{ topic, eventId: parsed.event.event_id, body }]);
    this.deps.onRecorded?.(topic, outcome ?? 'recorded');
  }
}

/** Logical topics of every known event whose MQTT topic the filter matches. */
export function matchingTopics(filter: string): string[] {
  return events.definitions().map((d) => d.topic).filter((t) => topicMatches(filter, toMqttTopic(t))).sort();
}

function policyOf(s: HttpSubscription): SubscriptionPolicy {
  const base: SubscriptionPolicy = {
    ...DEFAULT_POLICY,
    maxAttempts: s.maxAttempts,
    visibilityTimeoutMs: s.visibilityTimeoutMs,
    backoff: { ...DEFAULT_POLICY.backoff, initialMs: s.retryDelayMs, maxMs: s.maxRetryDelayMs },
  };
  return { ...base, dedupWindowMs: Math.max(DEFAULT_POLICY.dedupWindowMs, redeliveryHorizonMs(base)) };
}

function key(subscriber: string, filter: string): string {
  return `${subscriber}\u0000${filter}`;
}
