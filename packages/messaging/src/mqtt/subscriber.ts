import { createHash } from 'node:crypto';
import { fromMqttTopic, parseEnvelope, toMqttTopic } from '@albergue/events';
import type { Logger } from '@albergue/platform';
import type { IPublishPacket, MqttClient } from 'mqtt';
import type { Registry } from 'prom-client';
import { messagingMetrics } from '../metrics';
import type { MessagingMetrics } from '../metrics';
import type { DeadLetter, DeadLetterStore, DeliveryLedger, IncomingMessage } from '../ports/ledger';
import type { MqttConnectionOptions } from './connect';
import { connectMqtt, endMqtt } from './connect';
import { DEFERRED, interceptMessages, sendPuback } from './deferred-ack';

export interface SubscribedTopic {
  /** Logical topic. */
  readonly topic: string;
  /** Payload version this consumer reads (older events are upcast); default the newest defined. */
  readonly version?: number;
}

export interface MqttSubscriberOptions {
  readonly connection: MqttConnectionOptions;
  readonly service: string;
  /** Consumer group: every instance records into the same ledger under this name. */
  readonly subscriber: string;
  readonly topics: readonly SubscribedTopic[];
  readonly ledger: DeliveryLedger;
  readonly deadLetters: DeadLetterStore;
  /** Group commit: a batch is recorded when it holds maxMessages or is maxDelayMs old (defaults 500, 2 ms). */
  readonly batch?: { readonly maxMessages?: number; readonly maxDelayMs?: number };
  readonly logger?: Logger;
  readonly metrics?: Registry;
  /** Called after new messages were recorded (wakes the router's workers). */
  readonly onRecorded?: (count: number) => void;
}

interface Received {
  readonly packet: IPublishPacket;
  /** The connection that delivered it: a PUBACK is only valid on that one. */
  readonly connection: number;
  /** For QoS 2 (never requested, tolerated): mqtt.js' own completion, held until recorded. */
  readonly done?: (err?: Error) => void;
}

/**
 * The MQTT side of a subscriber: QoS 1 subscriptions on a persistent session. Every message is
 * validated, then recorded in the ledger (or, if invalid, dead-lettered with the reason), and only
 * when that write is durable does its PUBACK go out. Acks never wait for a handler: handlers run
 * later, from the ledger. If the ledger is unreachable the acks are held and the write retried; the
 * broker redelivers unacked messages when the session reconnects, and the record is idempotent.
 */
export class MqttSubscriber {
  private client: MqttClient | undefined;
  private connection = 0;
  private pending: Received[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private closing = false;
  private readonly versions = new Map<string, number | undefined>();
  private readonly maxMessages: number;
  private readonly maxDelayMs: number;
  private readonly metrics: MessagingMetrics | undefined;
  /** Messages recorded (new) / duplicate / dead-lettered since start; for tests and logs. */
  readonly stats = { received: 0, recorded: 0, duplicates: 0, invalid: 0 };

  constructor(private readonly options: MqttSubscriberOptions) {
    for (const t of options.topics) this.versions.set(t.topic, t.version);
    this.maxMessages = options.batch?.maxMessages ?? 500;
    this.maxDelayMs = options.batch?.maxDelayMs ?? 2;
    this.metrics = options.metrics ? messagingMetrics(options.metrics) : undefined;
  }

  async start(): Promise<void> {
    const { connection, logger } = this.options;
    this.client = await connectMqtt(connection, (client) => {
      interceptMessages(client, (packet, done) => this.receive(packet, done));
      client.on('connect', (connack) => {
        this.connection++;
        logger?.info({ client_id: connection.clientId, session_present: connack.sessionPresent }, 'mqtt connected');
      });
      client.on('error', (err) => logger?.warn({ err, client_id: connection.clientId }, 'mqtt error'));
      client.on('offline', () => logger?.warn({ client_id: connection.clientId }, 'mqtt offline, reconnecting'));
    });
    const granted = await this.client.subscribeAsync(this.options.topics.map((t) => toMqttTopic(t.topic)), { qos: 1 });
    const refused = granted.filter((g) => g.qos !== 0 && g.qos !== 1 && g.qos !== 2);
    if (refused.length > 0) {
      await endMqtt(this.client);
      throw new Error(`broker refused the subscription of ${this.options.subscriber} to ${refused.map((g) => g.topic).join(', ')}`);
    }
  }

  private receive(packet: IPublishPacket, done: (err?: Error) => void): void {
    this.stats.received++;
    // Closing: not acked, so the persistent session hands it over again on the next start.
    if (this.closing) return done(DEFERRED);
    if (packet.qos === 2) {
      this.pending.push({ packet, connection: this.connection, done });
    } else {
      this.pending.push({ packet, connection: this.connection });
      done(DEFERRED);
    }
    if (this.pending.length >= this.maxMessages) this.kick();
    else this.timer ??= setTimeout(() => this.kick(), this.maxDelayMs);
  }

  private kick(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.flushing ??= this.drain().finally(() => {
      this.flushing = undefined;
    });
  }

  /** Records batches one at a time, so PUBACKs leave in the order the messages arrived. */
  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, this.maxMessages);
      await this.recordWithRetry(batch);
    }
  }

  private async recordWithRetry(batch: Received[]): Promise<void> {
    for (let delay = 50; ; delay = Math.min(delay * 2, 2_000)) {
      try {
        await this.record(batch);
        return;
      } catch (err) {
        this.options.logger?.error({ err, subscriber: this.options.subscriber, messages: batch.length }, 'recording in the ledger failed; acks held, retrying');
        // Closing: leave them unacked; the persistent session redelivers them on the next start.
        if (this.closing) return;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private async record(batch: Received[]): Promise<void> {
    const { subscriber, service, ledger, deadLetters } = this.options;
    const valid: IncomingMessage[] = [];
    const invalid: DeadLetter[] = [];
    for (const r of batch) {
      const topic = fromMqttTopic(r.packet.topic);
      const body = Buffer.isBuffer(r.packet.payload) ? r.packet.payload.toString('utf8') : r.packet.payload;
      const version = this.versions.get(topic);
      const parsed = parseEnvelope(body, version === undefined ? { topic } : { topic, targetVersion: version });
      if (parsed.ok) valid.push({ topic, eventId: parsed.event.event_id, body });
      else invalid.push(invalidEnvelope(subscriber, topic, body, parsed.problems.map((p) => `${p.path}: ${p.message}`)));
    }
    const [outcomes] = await Promise.all([
      valid.length > 0 ? ledger.record(subscriber, valid) : Promise.resolve([]),
      ...invalid.map((d) => deadLetters.add(d)),
    ]);
    let recorded = 0;
    outcomes.forEach((o, i) => {
      if (o === 'recorded') recorded++;
      else this.metrics?.duplicates.inc({ service, subscriber, topic: valid[i]!.topic });
    });
    for (const d of invalid) {
      this.metrics?.deadLettered.inc({ service, subscriber, topic: d.topic });
      this.options.logger?.warn({ subscriber, topic: d.topic, dlq_id: d.id, errors: d.errors.map((e) => e.message) }, 'invalid envelope dead-lettered');
    }
    this.stats.recorded += recorded;
    this.stats.duplicates += outcomes.length - recorded;
    this.stats.invalid += invalid.length;
    // Durable: now the broker may forget them.
    for (const r of batch) {
      if (r.done) r.done();
      else if (r.packet.qos === 1 && r.packet.messageId !== undefined && r.connection === this.connection && this.client) {
        sendPuback(this.client, r.packet.messageId);
      }
    }
    if (recorded > 0) this.options.onRecorded?.(recorded);
  }

  /** Records and acks what was received, then disconnects (the session stays on the broker). */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.kick();
    await this.flushing;
    if (this.client) await endMqtt(this.client);
  }
}

function invalidEnvelope(subscriber: string, topic: string, body: string, problems: readonly string[]): DeadLetter {
  const now = new Date().toISOString();
  // Same garbage redelivered (ack lost on a reconnect) → same id, not a second entry.
  const id = `invalid-${createHash('sha256').update(subscriber).update('\n').update(body).digest('hex').slice(0, 32)}`;
  return {
    id,
    topic,
    subscriber,
    body,
    reason: 'invalid_envelope',
    attempts: 0,
    errors: problems.map((message) => ({ attempt: 0, at: now, message })),
    firstFailureAt: now,
    lastFailureAt: now,
    deadLetteredAt: now,
  };
}
