import { toMqttTopic } from '@albergue/events';
import type { MqttClient } from 'mqtt';
import type { Registry } from 'prom-client';
import type { OutgoingMessage, PublishManyOptions, Publisher } from '../ports/publisher';
import { PublishManyError } from '../ports/publisher';
import { messagingMetrics } from '../metrics';
import type { MqttConnectionOptions } from './connect';
import { connectMqtt, endMqtt } from './connect';

export interface MqttPublisherOptions {
  /** Service label of `events_published_total`. */
  readonly service: string;
  readonly metrics?: Registry;
}

/**
 * QoS 1 publisher on one mqtt.js client. mqtt.js resolves `publishAsync` on PUBACK and resends
 * unacknowledged publishes after a reconnect (its outgoing store is in memory: a process crash
 * loses them, which is why the outbox marks rows published only after this resolves).
 */
export class MqttPublisher implements Publisher {
  private readonly published;

  constructor(private readonly client: MqttClient, private readonly options: MqttPublisherOptions) {
    this.published = options.metrics ? messagingMetrics(options.metrics).published : undefined;
  }

  static async connect(connection: MqttConnectionOptions, options: MqttPublisherOptions): Promise<MqttPublisher> {
    return new MqttPublisher(await connectMqtt(connection), options);
  }

  async publish(message: OutgoingMessage): Promise<void> {
    await this.client.publishAsync(toMqttTopic(message.topic), message.body, { qos: 1 });
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
