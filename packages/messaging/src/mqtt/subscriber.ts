import { fromMqttTopic, parseEnvelope, toMqttTopic } from '@albergue/events';
import type { Logger } from '@albergue/platform';
import type { EventEnvelope } from '@albergue/events';
import type { IConnackPacket, IDisconnectPacket, IPublishPacket, MqttClient } from 'mqtt';
import type { Registry } from 'prom-client';
import { countDeadLetters, messagingMetrics } from '../metrics.js';
import type { MessagingMetrics } from '../metrics.js';
import type { DeadLetterInput, DeadLetterStore, DeliveryLedger, IncomingMessage, RecordOutcome } from '../ports/ledger.js';
import { rejectedMessage } from '../dlq/entries.js';
import type { MqttConnectionOptions } from './connect.js';
import { memoTopicForm } from './topic-forms.js';
import { connectMqtt, endMqtt, isProtocolRefusal, mqttConnectionStatus, negotiatedProtocol } from './connect.js';
import type { SubscriptionMode } from './subscription-mode.js';
import { assertShareGroup, assertSharedAvailable, modeFilter, subscribeRefused } from './subscription-mode.js';
import { isTransientLedgerError } from './transient.js';
import type { ParsedEnvelopes } from '../router/parsed-envelopes.js';
import { DEFERRED, interceptMessages, sendPuback } from './deferred-ack.js';

export interface SubscribedTopic {
  /** Logical topic. */
  readonly topic: string;
  /** Payload version this consumer reads (older events are upcast); default the newest defined. */
  readonly version?: number;
  /** Received through one of `filters`: not subscribed on its own. */
  readonly viaFilter?: boolean;
}

export interface MqttSubscriberOptions {
  readonly connection: MqttConnectionOptions;
  readonly service: string;
  /** Consumer group: every instance records into the same ledger under this name. */
  readonly subscriber: string;
  readonly topics: readonly SubscribedTopic[];
  /**
   * Wildcard subscriptions (MQTT topic filters, e.g. `albergue/#`), each subscribed once. A message
   * they bring is recorded under its own logical topic, like one of `topics`; one on a topic that is
   * not a defined event (unknown type or version) is dead-lettered at receipt (`invalid_envelope`).
   */
  readonly filters?: readonly string[];
  /**
   * Logical topics acked and dropped at receipt, never recorded (a wildcard's `except`: an MQTT
   * filter cannot exclude a topic, so they are skipped as cheaply as possible).
   */
  readonly skip?: readonly string[];
  /**
   * `fanout` (default): this instance receives every message of the group's topics. `shared`: the
   * group's instances share one MQTT 5 shared subscription per topic or filter, each message goes to
   * one of them (refused at start, with the setting to change, on a broker without it).
   */
  readonly mode?: SubscriptionMode;
  readonly ledger: DeliveryLedger;
  readonly deadLetters: DeadLetterStore;
  /**
   * Group commit: a batch is recorded when it holds maxMessages or is maxDelayMs old (defaults 250,
   * 2 ms); up to maxInFlight batches are written at once (default 2), their PUBACKs still leave in
   * the order the messages arrived. Redis runs one script at a time and a connection's pipelined
   * commands back to back: small batches and few in flight keep the workers' leases and acks from
   * waiting behind a long queue of record scripts while a burst arrives.
   */
  readonly batch?: { readonly maxMessages?: number; readonly maxDelayMs?: number; readonly maxInFlight?: number };
  /**
   * Backpressure: when the messages received but not yet recorded and acked reach `highWater`
   * (default 5,000) or `highWaterBytes` (default 32 MiB), the subscriber stops reading from the MQTT
   * connection (the broker keeps the rest, TCP flow control holds it back) until they are down to
   * `lowWater` / `lowWaterBytes` (defaults: half of the high-water marks).
   */
  readonly backpressure?: {
    readonly highWater?: number;
    readonly lowWater?: number;
    readonly highWaterBytes?: number;
    readonly lowWaterBytes?: number;
  };
  /** Where envelopes parsed at receipt are kept for the router of this process (skips a second parse). */
  readonly parsed?: ParsedEnvelopes;
  readonly logger?: Logger;
  readonly metrics?: Registry;
  /** Called after new messages were recorded (wakes the router's workers). */
  readonly onRecorded?: (count: number) => void;
  /**
   * A message whose recording fails for a reason that is not transient (not a connection problem)
   * is tried this many times on its own, then dead-lettered with `reason: unrecordable` (default 3).
   */
  readonly maxRecordFailures?: number;
}

/** Whether the transport makes progress: see `MqttSubscriber.health`. */
export interface TransportHealth {
  readonly ok: boolean;
  readonly reason?: string;
}

interface Received {
  readonly packet: IPublishPacket;
  /** The connection that delivered it: a PUBACK is only valid on that one. */
  readonly connection: number;
  readonly bytes: number;
  /** For QoS 2 (never requested, tolerated): mqtt.js' own completion, held until recorded. */
  readonly done?: (err?: Error) => void;
}

/**
 * The MQTT side of a subscriber: QoS 1 subscriptions on a persistent session. Every message is
 * validated, then recorded in the ledger (or, if invalid, dead-lettered with the reason), and only
 * when that write is durable does its PUBACK go out. Acks never wait for a handler: handlers run
 * later, from the ledger. If the ledger is unreachable the acks are held and the write retried; the
 * broker redelivers unacked messages when the session reconnects, and the record is idempotent.
 * If the ledger is slower than the broker, reading from the connection pauses past a high-water
 * mark of outstanding messages and resumes below a low-water mark: memory stays bounded.
 */
export class MqttSubscriber {
  private client: MqttClient | undefined;
  private connection = 0;
  /** Received, not yet in a batch. */
  private pending: Received[] = [];
  /** Received and not yet acked (pending + batches in flight), in messages and payload bytes. */
  private outstandingCount = 0;
  private outstandingBytes = 0;
  /** mqtt.js completions held while over the high-water mark: calling one resumes reading. */
  private held: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly batches = new Set<Promise<void>>();
  /** Settles when the PUBACKs of the latest batch went out: the next batch acks after it. */
  private lastAcked: Promise<void> = Promise.resolve();
  private closing = false;
  private readonly versions = new Map<string, number | undefined>();
  /** MQTT → logical topic; bounded: a subscriber sees only the topics it subscribed to (no wildcards). */
  private readonly logicalTopic = memoTopicForm(fromMqttTopic, 1_000);
  private readonly maxMessages: number;
  private readonly maxDelayMs: number;
  private readonly maxInFlight: number;
  private readonly highWater: number;
  private readonly lowWater: number;
  private readonly highWaterBytes: number;
  private readonly lowWaterBytes: number;
  private readonly metrics: MessagingMetrics | undefined;
  /** Messages recorded (new) / duplicate / dead-lettered since start, times reading paused; for tests and logs. */
  readonly stats = { received: 0, recorded: 0, duplicates: 0, invalid: 0, unrecordable: 0, pauses: 0, recordFailures: 0, skipped: 0 };
  private readonly skip: ReadonlySet<string>;
  /** When a batch last completed, or when messages started waiting after none did (ms). */
  private lastProgressAt = Date.now();
  /** The last recording failure, while it is unresolved. */
  private lastRecordError: string | undefined;
  private readonly maxRecordFailures: number;
  /** The last CONNACK (reason code, MQTT 5 properties such as sharedSubscriptionAvailable). */
  private connack: IConnackPacket | undefined;
  /** Shared mode: the `$share/…` filters subscribed, left on close. */
  private sharedFilters: readonly string[] = [];
  private closed: Promise<void> | undefined;

  constructor(private readonly options: MqttSubscriberOptions) {
    for (const t of options.topics) this.versions.set(t.topic, t.version);
    this.skip = new Set(options.skip ?? []);
    this.maxMessages = Math.max(1, options.batch?.maxMessages ?? 250);
    this.maxDelayMs = options.batch?.maxDelayMs ?? 2;
    this.maxInFlight = Math.max(1, options.batch?.maxInFlight ?? 2);
    const bp = options.backpressure ?? {};
    this.highWater = Math.max(1, bp.highWater ?? 5_000);
    this.lowWater = Math.min(this.highWater - 1, Math.max(0, bp.lowWater ?? Math.floor(this.highWater / 2)));
    this.highWaterBytes = Math.max(1, bp.highWaterBytes ?? 32 * 1024 * 1024);
    this.lowWaterBytes = Math.min(this.highWaterBytes - 1, Math.max(0, bp.lowWaterBytes ?? Math.floor(this.highWaterBytes / 2)));
    this.metrics = options.metrics ? messagingMetrics(options.metrics) : undefined;
    this.maxRecordFailures = Math.max(1, options.maxRecordFailures ?? 3);
  }

  /**
   * Not ok while the MQTT connection is down (with the broker's reason, e.g. a CONNACK refusal) or
   * while messages have been waiting to be recorded for longer than `stallAfterMs` without any
   * batch completing (with the last recording error).
   */
  health(stallAfterMs: number, now = Date.now()): TransportHealth {
    if (this.client) {
      const status = mqttConnectionStatus(this.client);
      if (!status.connected) return { ok: false, reason: `mqtt: ${status.reason ?? 'disconnected'}` };
    }
    if (this.outstandingCount > 0 && now - this.lastProgressAt > stallAfterMs) {
      const secs = Math.round((now - this.lastProgressAt) / 1000);
      return {
        ok: false,
        reason: `${this.options.subscriber}: ${this.outstandingCount} message(s) not recorded for ${secs} s${this.lastRecordError ? `: ${this.lastRecordError}` : ''}`,
      };
    }
    return { ok: true };
  }

  /** Messages received and not yet recorded and acked (what backpressure bounds). */
  get outstanding(): { readonly messages: number; readonly bytes: number; readonly paused: boolean } {
    return { messages: this.outstandingCount, bytes: this.outstandingBytes, paused: this.held.length > 0 };
  }

  async start(): Promise<void> {
    const { connection, logger } = this.options;
    // Dead letters written at receipt (invalid, unrecordable) count in dlq_total (once per process).
    if (this.options.metrics)
      countDeadLetters(this.options.metrics, this.options.service, this.options.subscriber, [
        this.options.ledger,
        this.options.deadLetters,
      ]);
    const mode = this.options.mode ?? 'fanout';
    if (mode === 'shared') assertShareGroup(this.options.subscriber);
    this.client = await connectMqtt(connection, (client) => {
      interceptMessages(client, (packet, done) => this.receive(packet, done));
      client.on('connect', (connack) => {
        this.connection++;
        this.connack = connack;
        logger?.info(
          {
            client_id: connection.clientId,
            session_present: connack.sessionPresent,
            protocol: negotiatedProtocol(client) === 5 ? 'mqtt5' : 'mqtt3.1.1',
            reason_code: connack.reasonCode ?? connack.returnCode ?? 0,
            mode,
          },
          'mqtt connected',
        );
      });
      client.on('error', (err) => {
        const code = (err as { code?: unknown }).code;
        // protocolVersion 'auto' on a 3.1.1-only broker: connectMqtt goes on with 3.1.1.
        if (connection.protocolVersion === 'auto' && negotiatedProtocol(client) === 5 && isProtocolRefusal(err))
          logger?.info({ client_id: connection.clientId, return_code: code }, 'the broker refused MQTT 5; connecting with MQTT 3.1.1');
        // A CONNACK refusal (bad credentials, not authorised, …): mqtt.js keeps reconnecting with backoff.
        else if (typeof code === 'number')
          logger?.warn(
            { err, client_id: connection.clientId, return_code: code },
            'mqtt connection refused by the broker; retrying with backoff',
          );
        else logger?.warn({ err, client_id: connection.clientId }, 'mqtt error');
      });
      // MQTT 5: the broker says why it disconnects us (session taken over, server shutting down, …).
      client.on('disconnect', (packet: IDisconnectPacket) =>
        logger?.warn(
          { client_id: connection.clientId, reason_code: packet.reasonCode, reason: packet.properties?.reasonString },
          'mqtt disconnected by the broker',
        ),
      );
      client.on('offline', () => logger?.warn({ client_id: connection.clientId }, 'mqtt offline, reconnecting'));
    });
    const plain = [...this.options.topics.filter((t) => !t.viaFilter).map((t) => toMqttTopic(t.topic)), ...(this.options.filters ?? [])];
    try {
      if (mode === 'shared') assertSharedAvailable(this.client, this.connack, connection.url);
      // A session kept from a run in the other mode still holds that mode's subscriptions: drop them,
      // or this instance would get every message (fanout) or a share (shared) on top of its own.
      if (this.connack?.sessionPresent) {
        const other = plain.map((f) => modeFilter(mode === 'shared' ? 'fanout' : 'shared', this.options.subscriber, f));
        await this.client
          .unsubscribeAsync(other)
          .catch((err: unknown) => logger?.warn({ err, filters: other }, 'dropping the other subscription mode from the session failed'));
      }
      const filters = plain.map((f) => modeFilter(mode, this.options.subscriber, f));
      let granted;
      try {
        granted = await this.client.subscribeAsync(filters, { qos: 1 });
      } catch (err) {
        throw subscribeRefused(this.options.subscriber, mode, filters, (err as { code?: unknown }).code);
      }
      logger?.info({ filters, granted: granted.map((g) => g.qos), mode }, 'mqtt subscribed');
      if (mode === 'shared') this.sharedFilters = filters;
      const refused = granted.filter((g) => g.qos !== 0 && g.qos !== 1 && g.qos !== 2);
      if (refused.length > 0)
        throw subscribeRefused(
          this.options.subscriber,
          mode,
          refused.map((g) => g.topic),
          refused[0]?.qos,
        );
    } catch (err) {
      await endMqtt(this.client);
      throw err;
    }
  }

  private receive(packet: IPublishPacket, done: (err?: Error) => void): void {
    this.stats.received++;
    // Closing: not acked, so the persistent session hands it over again on the next start.
    if (this.closing) return done(DEFERRED);
    const bytes = packet.payload.length;
    // Waiting starts now: a stall is measured from here, not from the last (maybe old) progress.
    if (this.outstandingCount === 0) this.lastProgressAt = Date.now();
    this.outstandingCount++;
    this.outstandingBytes += bytes;
    if (packet.qos === 2) {
      this.pending.push({ packet, connection: this.connection, bytes, done });
    } else {
      this.pending.push({ packet, connection: this.connection, bytes });
      // mqtt.js reads the next packet only once `done` is called: holding it stops reading.
      if (this.outstandingCount >= this.highWater || this.outstandingBytes >= this.highWaterBytes) this.pause(() => done(DEFERRED));
      else done(DEFERRED);
    }
    if (this.pending.length >= this.maxMessages) this.kick();
    else this.timer ??= setTimeout(() => this.kick(), this.maxDelayMs);
  }

  private pause(resume: () => void): void {
    if (this.held.length === 0) {
      this.stats.pauses++;
      this.options.logger?.info(
        { subscriber: this.options.subscriber, outstanding: this.outstandingCount, bytes: this.outstandingBytes },
        'ledger behind: MQTT reads paused',
      );
    }
    this.held.push(resume);
  }

  private maybeResume(): void {
    if (this.held.length === 0) return;
    if (!this.closing && (this.outstandingCount > this.lowWater || this.outstandingBytes > this.lowWaterBytes)) return;
    const held = this.held;
    this.held = [];
    for (const resume of held) resume();
  }

  /** Starts batches while there are messages and write slots. */
  private kick(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.pending.length > 0 && this.batches.size < this.maxInFlight) {
      this.startBatch(this.pending.splice(0, this.maxMessages));
    }
  }

  private startBatch(batch: Received[]): void {
    const previous = this.lastAcked;
    const p: Promise<void> = this.recordWithRetry(batch)
      .then(async (durable) => {
        // PUBACKs leave in arrival order (MQTT 3.1.1 §4.6): after those of the previous batch.
        await previous;
        if (durable) this.ack(batch);
      })
      .catch((err: unknown) =>
        this.options.logger?.error(
          { err, subscriber: this.options.subscriber },
          'acking a recorded batch failed; the broker redelivers it',
        ),
      )
      .finally(() => {
        this.batches.delete(p);
        for (const r of batch) this.outstandingBytes -= r.bytes;
        this.outstandingCount -= batch.length;
        this.maybeResume();
        // Messages that waited for a write slot go now, whatever their number.
        if (this.pending.length > 0) this.kick();
      });
    this.batches.add(p);
    this.lastAcked = p;
  }

  /**
   * True once every message of the batch is recorded or dead-lettered; false when given up because
   * the subscriber is closing (left unacked: the persistent session redelivers them).
   * Transient failures (the ledger unreachable) are retried for the whole batch with backoff; any
   * other failure is narrowed down by recording the messages one by one, and a message that keeps
   * failing on its own goes to the DLQ (`unrecordable`) so that it never holds back the others.
   */
  private async recordWithRetry(batch: Received[]): Promise<boolean> {
    const { subscriber } = this.options;
    let { valid, invalid } = this.prepare(batch);
    const strikes = new Map<IncomingMessage, number>();
    for (let delay = 50; ; delay = Math.min(delay * 2, 2_000)) {
      try {
        if (invalid.length > 0) {
          await this.deadLetter(invalid);
          invalid = [];
        }
        if (valid.length > 0) {
          const outcomes = await this.options.ledger.record(
            subscriber,
            valid.map((v) => v.message),
          );
          this.recorded(valid, outcomes);
          valid = [];
        }
        this.progress();
        return true;
      } catch (err) {
        this.stats.recordFailures++;
        this.lastRecordError = errorText(err);
        const transient = isTransientLedgerError(err);
        this.options.logger?.error(
          { err, subscriber, messages: valid.length + invalid.length, transient },
          'recording in the ledger failed; acks held, retrying',
        );
        if (this.closing) return false;
        if (!transient && valid.length > 0) valid = await this.isolate(valid, strikes);
        if (valid.length === 0 && invalid.length === 0) {
          this.progress();
          return true;
        }
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /** Records the messages one at a time; returns those still to retry. Dead-letters a message that failed on its own too often. */
  private async isolate(valid: readonly Prepared[], strikes: Map<IncomingMessage, number>): Promise<Prepared[]> {
    const { subscriber, ledger } = this.options;
    const retry: Prepared[] = [];
    const unrecordable: DeadLetterInput[] = [];
    for (const v of valid) {
      try {
        this.recorded([v], await ledger.record(subscriber, [v.message]));
      } catch (err) {
        const n = (strikes.get(v.message) ?? 0) + (isTransientLedgerError(err) ? 0 : 1);
        strikes.set(v.message, n);
        if (n < this.maxRecordFailures) {
          retry.push(v);
          continue;
        }
        unrecordable.push(
          rejectedMessage({
            subscriber,
            topic: v.message.topic,
            body: v.raw,
            id: v.message.eventId,
            reason: 'unrecordable',
            problems: [`the ledger refused to record it ${n} times: ${errorText(err)}`],
          }),
        );
      }
    }
    if (unrecordable.length > 0) {
      try {
        await this.deadLetter(unrecordable);
        this.stats.unrecordable += unrecordable.length;
      } catch (err) {
        this.options.logger?.error({ err, subscriber }, 'dead-lettering unrecordable messages failed; retrying');
        for (const d of unrecordable) {
          const v = valid.find((x) => x.message.eventId === d.id && x.message.topic === d.topic);
          if (v) retry.push(v);
        }
      }
    }
    return retry;
  }

  private progress(): void {
    this.lastProgressAt = Date.now();
    this.lastRecordError = undefined;
  }

  /** Parses each message once: valid envelopes to record, anything else to dead-letter (never throws). */
  private prepare(batch: readonly Received[]): { valid: Prepared[]; invalid: DeadLetterInput[] } {
    const { subscriber } = this.options;
    const valid: Prepared[] = [];
    const invalid: DeadLetterInput[] = [];
    for (const r of batch) {
      const topic = this.logicalTopic(r.packet.topic);
      // A wildcard's exception (audit's own AuditLogged), or a topic no ledger key can hold: acked with the batch, not recorded.
      if (this.skip.has(topic) || !KEY_PART.test(topic)) {
        this.stats.skipped++;
        if (!this.skip.has(topic))
          this.options.logger?.warn({ subscriber, topic }, 'message on a topic that is not an event topic skipped');
        continue;
      }
      const payload = r.packet.payload;
      const body = Buffer.isBuffer(payload) ? payload.toString('utf8') : payload;
      const version = this.versions.get(topic);
      const parsed = parseEnvelope(body, version === undefined ? { topic } : { topic, targetVersion: version });
      if (parsed.ok) {
        const message: IncomingMessage = Buffer.isBuffer(payload)
          ? { topic, eventId: parsed.event.event_id, body, bytes: payload }
          : { topic, eventId: parsed.event.event_id, body };
        valid.push({ message, event: parsed.event, raw: payload });
      } else {
        // The id comes from the bytes: the same garbage redelivered is the same entry.
        invalid.push(
          rejectedMessage({ subscriber, topic, body: payload, problems: parsed.problems.map((p) => `${p.path}: ${p.message}`) }),
        );
      }
    }
    return { valid, invalid };
  }

  private async deadLetter(entries: readonly DeadLetterInput[]): Promise<void> {
    const { subscriber, deadLetters } = this.options;
    await Promise.all(entries.map((d) => deadLetters.add(d)));
    for (const d of entries) {
      if (d.reason === 'invalid_envelope') this.stats.invalid++;
      this.options.logger?.warn(
        { subscriber, topic: d.topic, dlq_id: d.id, reason: d.reason, errors: d.errors.map((e) => e.message) },
        'message dead-lettered at receipt',
      );
    }
  }

  private recorded(valid: readonly Prepared[], outcomes: readonly RecordOutcome[]): void {
    const { subscriber, service, parsed: cache } = this.options;
    let recorded = 0;
    outcomes.forEach((o, i) => {
      const v = valid[i]!;
      if (o === 'recorded') {
        recorded++;
        cache?.put(v.message.topic, v.message.eventId, v.message.body, v.event.event_version, v.event);
      } else {
        this.metrics?.duplicates.inc({ service, subscriber, topic: v.message.topic });
      }
    });
    this.stats.recorded += recorded;
    this.stats.duplicates += outcomes.length - recorded;
    if (recorded > 0) this.options.onRecorded?.(recorded);
  }

  /** Durable: now the broker may forget them. */
  private ack(batch: Received[]): void {
    for (const r of batch) {
      if (r.done) r.done();
      else if (r.packet.qos === 1 && r.packet.messageId !== undefined && r.connection === this.connection && this.client) {
        sendPuback(this.client, r.packet.messageId);
      }
    }
  }

  /**
   * Records and acks what was received, then disconnects (the session stays on the broker). In
   * shared mode it first leaves the group (UNSUBSCRIBE, bounded by `leaveTimeoutMs`): the broker then
   * stops assigning messages to this session (Mosquitto would keep queueing a share for an offline
   * member until it returns), and what it assigned before arrives ahead of the UNSUBACK and is
   * recorded and acked like the rest. A crashed instance cannot leave: its share waits in its
   * session until it restarts under the same client id.
   */
  close(leaveTimeoutMs = 2_000): Promise<void> {
    this.closed ??= this.shutdown(leaveTimeoutMs);
    return this.closed;
  }

  private async shutdown(leaveTimeoutMs: number): Promise<void> {
    const client = this.client;
    if (this.sharedFilters.length > 0 && client?.connected) {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          client.unsubscribeAsync([...this.sharedFilters]),
          new Promise(
            (_, reject) => (timer = setTimeout(() => reject(new Error(`no UNSUBACK within ${leaveTimeoutMs} ms`)), leaveTimeoutMs)),
          ),
        ]);
      } catch (err) {
        this.options.logger?.warn(
          { err, subscriber: this.options.subscriber },
          'leaving the shared subscription failed; the broker may queue messages for this session',
        );
      } finally {
        clearTimeout(timer);
      }
    }
    this.closing = true;
    this.kick();
    // Bounded: once closing, no message joins `pending`, and each round settles the batches started.
    while (this.batches.size > 0) await Promise.allSettled([...this.batches]);
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.maybeResume();
    if (this.client) await endMqtt(this.client);
  }
}

interface Prepared {
  readonly message: IncomingMessage;
  readonly event: EventEnvelope;
  /** The payload as received (for the DLQ). */
  readonly raw: Buffer | string;
}

/** What the ledger accepts as a key part (packages/messaging/src/ledger/policy.ts assertKeyPart). */
const KEY_PART = /^[^\s:]+$/;

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));
