import { toMqttTopic } from '@albergue/events';
import type { MqttClient } from 'mqtt';
import type { Registry } from 'prom-client';
import type { OutgoingMessage, PublishManyOptions, Publisher } from '../ports/publisher.js';
import { PublishManyError } from '../ports/publisher.js';
import { DeadlineQueue } from '../deadlines.js';
import { eventsPublishedCounter } from '../metrics.js';
import type { MqttConnectionOptions } from './connect.js';
import { connectMqtt, endMqtt } from './connect.js';

export interface MqttPublisherOptions {
  /** Service label of `events_published_total`. */
  readonly service: string;
  readonly metrics?: Registry;
  /**
   * How long a publish waits for the broker's PUBACK before it rejects with a PubackTimeoutError
   * (default 30,000 ms). mqtt.js keeps the message in its outgoing store and still sends it after a
   * reconnect, so the caller's retry may deliver it twice: consumers deduplicate by event_id.
   */
  readonly pubackTimeoutMs?: number;
}

/** The broker did not acknowledge a QoS 1 publish in time. */
export class PubackTimeoutError extends Error {
  constructor(readonly topic: string, readonly eventId: string, readonly timeoutMs: number) {
    super(`no PUBACK from the MQTT broker within ${timeoutMs} ms for ${topic} (event_id ${eventId}); the publish may still complete after a reconnect`);
    this.name = 'PubackTimeoutError';
  }
}

/**
 * QoS 1 publisher on one mqtt.js client. mqtt.js resolves `publishAsync` on PUBACK and resends
 * unacknowledged publishes after a reconnect (its outgoing store is in memory: a process crash
 * loses them, which is why the outbox marks rows published only after this resolves).
 */
export class MqttPublisher implements Publisher {
  private readonly published;
  private readonly deadlines: DeadlineQueue;
  private readonly timeoutMs: number;

  constructor(private readonly client: MqttClient, private readonly options: MqttPublisherOptions) {
    this.published = options.metrics ? eventsPublishedCounter(options.metrics) : undefined;
    this.timeoutMs = Math.max(1, options.pubackTimeoutMs ?? 30_000);
    this.deadlines = new DeadlineQueue(this.timeoutMs);
  }

  static async connect(connection: MqttConnectionOptions, options: MqttPublisherOptions): Promise<MqttPublisher> {
    return new MqttPublisher(await connectMqtt(connection), options);
  }

  async publish(message: OutgoingMessage): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const deadline = this.deadlines.add(() => reject(new PubackTimeoutError(message.topic, message.eventId, this.timeoutMs)));
      this.client.publish(toMqttTopic(message.topic), message.body, { qos: 1 }, (err) => {
        // After a timeout the promise is settled already: a late PUBACK or error changes nothing.
        this.deadlines.settle(deadline);
        if (err) reject(err);
        else resolve();
      });
    });
    this.published?.inc({ service: this.options.service, topic: message.topic });
  }

  async publishMany(messages: readonly OutgoingMessage[], options: PublishManyOptions = {}): Promise<void> {
    const window = Math.max(1, options.window ?? 100);
    let next = 0;
    let ok = 0;
    let failed = 0;
    let firstError: Error | undefined;
    // `window` lanes each take the next message: publishes are issued in input order.
    const lane = async () => {
      while (next < messages.length) {
        const m = messages[next++]!;
        try {
          await this.publish(m);
          ok++;
        } catch (err) {
          failed++;
          firstError ??= err instanceof Error ? err : new Error(String(err));
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(window, messages.length) }, lane));
    if (firstError) throw new PublishManyError(ok, failed, firstError);
  }

  async close(): Promise<void> {
    await endMqtt(this.client);
  }
}
