import type { DeadLetterStore, DeliveryLedger, SubscriptionPolicy } from '@albergue/messaging';
import { DEFAULT_POLICY, deadLetterId, redeliveryHorizonMs, rejectedMessage } from '@albergue/messaging';
import { events, fromMqttTopic, parseEnvelope, toMqttTopic } from '@albergue/events';
import type { ParseResult } from '@albergue/events';
import { setTimeout as sleep } from 'node:timers/promises';
import { isValidFilter, topicMatches } from '../domain/topic-filter.js';
import type { HttpSubscription, HttpSubscriptionRegistry } from './http-subscriptions.js';
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

/** A name that belongs to a declared subscriber (or an MQTT account): HTTP consumers may not use it. */
export class SubscriptionConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SubscriptionConflictError';
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
  /** `<subscriber>\0<event_id or dlq id>` recorded before the broker acknowledged (bounded, oldest evicted). */
  private readonly recordedBeforeAck = new Map<string, true>();

  constructor(
    private readonly deps: {
      readonly ledger: DeliveryLedger;
      readonly deadLetters: DeadLetterStore;
      readonly registry: HttpSubscriptionRegistry;
      readonly broker: InternalSubscriber;
      readonly logger: Logger;
      readonly onRecorded?: (topic: string, outcome: 'recorded' | 'duplicate' | 'invalid') => void;
      /** A ledger write failed; the message is held (not acknowledged) and retried. */
      readonly onRecordFailure?: (topic: string) => void;
      /**
       * Names HTTP consumers may never use: the declared subscribers (their policy and ledger belong
       * to the services) and the MQTT accounts.
       */
      readonly reserved?: ReadonlySet<string>;
      /** Retry delays of a failed ledger write (default 50 ms doubling to 5 s). */
      readonly retry?: { readonly initialMs: number; readonly maxMs: number };
    },
  ) {}

  private closed = false;
  private readonly stopping = new AbortController();

  /**
   * Re-subscribes every registration stored in the registry (call at start). A stored registration
   * under a reserved name (written before names were checked) is never re-applied: it is logged and
   * left for an operator to delete.
   */
  async restore(): Promise<number> {
    const all = await this.deps.registry.list();
    let n = 0;
    for (const s of all) {
      if (this.isReserved(s.subscriber)) {
        this.deps.logger.warn(
          { subscriber: s.subscriber, topic_filter: s.filter },
          "stored HTTP subscription uses a declared subscriber's name: not applied; delete it (DELETE /api/mqtt/subscriptions/<subscriber>)",
        );
        continue;
      }
      await this.activate(s);
      n++;
    }
    return n;
  }

  isReserved(subscriber: string): boolean {
    return this.deps.reserved?.has(subscriber) ?? false;
  }

  async register(input: RegisterInput): Promise<{ subscription: HttpSubscription; topics: string[] }> {
    if (!SUBSCRIBER_NAME.test(input.subscriber)) {
      throw new SubscriptionError(
        `subscriber "${input.subscriber}" must match ${SUBSCRIBER_NAME.source} (lowercase letters, digits, _ . -)`,
      );
    }
    if (this.isReserved(input.subscriber)) {
      throw new SubscriptionConflictError(
        `"${input.subscriber}" is a declared subscriber (or an MQTT account); HTTP consumers need a name of their own`,
      );
    }
    const filter =
      input.topicFilter.includes('/') || !input.topicFilter.startsWith('albergue.') ? input.topicFilter : toMqttTopic(input.topicFilter);
    if (!isValidFilter(filter)) throw new SubscriptionError(`"${input.topicFilter}" is not a valid MQTT topic filter`);
    const topics = matchingTopics(filter);
    if (topics.length === 0)
      throw new SubscriptionError(
        `topic filter "${filter}" matches no known event topic (e.g. albergue/booking/# or albergue/booking/v1/BookingReserved)`,
      );
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
      throw new SubscriptionError(
        `max_retry_delay_ms (${subscription.maxRetryDelayMs}) must be at least retry_delay_ms (${subscription.retryDelayMs})`,
      );
    }
    await this.activate(subscription);
    await this.deps.registry.save(subscription);
    return { subscription, topics };
  }

  /** Every stored registration (shared by all instances), with whether it is applied here. */
  async list(): Promise<(HttpSubscription & { readonly active: boolean })[]> {
    const all = await this.deps.registry.list();
    return all
      .map((s) => ({ ...s, active: this.active.has(key(s.subscriber, s.filter)) }))
      .sort((a, b) => a.subscriber.localeCompare(b.subscriber) || a.filter.localeCompare(b.filter));
  }

  /**
   * Deletes the registrations of `subscriber` (only the one with `filter` when given) and stops
   * feeding them here. Messages already in its ledger stay there (the DLQ/breaker endpoints still
   * see them). Returns what was deleted.
   */
  async unregister(subscriber: string, filter?: string): Promise<HttpSubscription[]> {
    const stored = (await this.deps.registry.list()).filter(
      (s) => s.subscriber === subscriber && (filter === undefined || s.filter === filter),
    );
    for (const s of stored) {
      const k = key(s.subscriber, s.filter);
      const stop = this.active.get(k);
      this.active.delete(k);
      this.subscriptions.delete(k);
      if (stop) await stop();
      await this.deps.registry.remove(s.subscriber, s.filter);
    }
    return stored;
  }

  isRegistered(subscriber: string): boolean {
    for (const s of this.subscriptions.values()) if (s.subscriber === subscriber) return true;
    return false;
  }

  /** Stops feeding (the registrations stay stored). */
  async close(): Promise<void> {
    this.closed = true;
    this.stopping.abort();
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
    const stop = await this.deps.broker.subscribe(s.filter, (packet) => this.feed(s.subscriber, packet, false));
    this.active.set(k, stop);
  }

  /**
   * Records a message for every HTTP subscription of this instance that matches its MQTT topic,
   * BEFORE the broker acknowledges it (called from authorizePublish for client publishes, and
   * before an HTTP publish). Aedes sends a QoS 1 PUBACK before it hands the message to in-process
   * subscribers, so this is the only place where a failed ledger write can still withhold the ack:
   * it retries until the write succeeds, and rejects only when the feed closes (the client is then
   * disconnected without a PUBACK and publishes again). The in-process subscription skips what was
   * recorded here; one it still sees is recorded idempotently (same event_id → one entry).
   */
  recordBeforeAck(packet: BrokerPacket & { readonly retain?: boolean }): Promise<void> | undefined {
    const subscribers = new Set<string>();
    for (const s of this.subscriptions.values()) {
      if (this.active.has(key(s.subscriber, s.filter)) && topicMatches(s.filter, packet.topic)) subscribers.add(s.subscriber);
    }
    // Nothing to record: undefined lets the caller go on synchronously (no added latency).
    if (subscribers.size === 0) return undefined;
    return (async () => {
      for (const subscriber of subscribers) await this.feed(subscriber, packet, true);
    })();
  }

  private async feed(subscriber: string, packet: BrokerPacket & { readonly retain?: boolean }, beforeAck: boolean): Promise<void> {
    const topic = fromMqttTopic(packet.topic);
    const bytes = typeof packet.payload === 'string' ? Buffer.from(packet.payload, 'utf8') : packet.payload;
    // An empty retained publish is MQTT's "clear the retained message", not an event.
    if (bytes.length === 0 && packet.retain === true) return;
    const body = bytes.toString('utf8');
    const parsed = safeParse(body, topic);
    const seenKey = `${subscriber}\u0000${parsed.ok ? parsed.event.event_id : deadLetterId(subscriber, bytes)}`;
    if (!beforeAck && this.recordedBeforeAck.delete(seenKey)) return;
    if (!parsed.ok) {
      const entry = rejectedMessage({ subscriber, topic, body: bytes, problems: [parsed.reason] });
      await this.untilDone(topic, () => this.deps.deadLetters.add(entry));
      this.deps.logger.warn({ subscriber, topic, dlq_id: entry.id, reason: parsed.reason }, 'invalid envelope sent to the DLQ');
      this.deps.onRecorded?.(topic, 'invalid');
    } else {
      const [outcome] = await this.untilDone(topic, () =>
        this.deps.ledger.record(subscriber, [{ topic, eventId: parsed.event.event_id, body }]),
      );
      this.deps.onRecorded?.(topic, outcome ?? 'recorded');
    }
    if (beforeAck) {
      this.recordedBeforeAck.set(seenKey, true);
      if (this.recordedBeforeAck.size > 10_000) this.recordedBeforeAck.delete(this.recordedBeforeAck.keys().next().value!);
    }
  }

  /**
   * Runs a ledger write until it succeeds. The broker acknowledges a publish only once every
   * in-process subscriber has taken it, so holding here holds the PUBACK (in-memory emitter): a
   * message is never acknowledged that the ledger does not hold. Gives up only when the feed closes.
   */
  private async untilDone<T>(topic: string, write: () => Promise<T>): Promise<T> {
    const { initialMs, maxMs } = this.deps.retry ?? { initialMs: 50, maxMs: 5_000 };
    for (let attempt = 1, delay = initialMs; ; attempt++, delay = Math.min(maxMs, delay * 2)) {
      try {
        return await write();
      } catch (err) {
        if (this.closed) throw err;
        this.deps.onRecordFailure?.(topic);
        if (attempt === 1 || attempt % 20 === 0)
          this.deps.logger.error(
            { topic, attempt, err: (err as Error).message },
            'could not record a message for an HTTP consumer; holding it (not acknowledged) and retrying',
          );
        // Woken early by close(), so a held message never delays a shutdown.
        await sleep(delay, undefined, { signal: this.stopping.signal }).catch(() => undefined);
        if (this.closed) throw err;
      }
    }
  }
}

/** parseEnvelope that cannot throw: a parser failure is an invalid envelope (DLQ), never a stalled feed. */
function safeParse(body: string, topic: string): ParseResult {
  try {
    return parseEnvelope(body, { topic });
  } catch (err) {
    const reason = `envelope could not be parsed: ${(err as Error).message.slice(0, 200)}`;
    return { ok: false, reason, problems: [{ path: '/', message: reason }] };
  }
}

/** Logical topics of every known event whose MQTT topic the filter matches. */
function matchingTopics(filter: string): string[] {
  return events
    .definitions()
    .map((d) => d.topic)
    .filter((t) => topicMatches(filter, toMqttTopic(t)))
    .sort();
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
