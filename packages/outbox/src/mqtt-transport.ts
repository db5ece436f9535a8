import mqtt from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { OutboxMessage, OutboxTransport, PublishResult } from './transport';

export interface MqttOutboxTransportOptions {
  /** Publishes in flight (sent, PUBACK pending) at most; later ones wait (default 100). */
  readonly window?: number;
  /** A PUBACK not received within this time fails the message (default 10 s). */
  readonly ackTimeoutMs?: number;
}

/**
 * `OutboxTransport` over mqtt.js: QoS 1 `publishAsync`, a window of in-flight publishes shared by
 * every `publish` call. While the client is disconnected messages fail at once (nothing is queued
 * in mqtt.js' memory, so the relay's backoff — not the client — decides when to retry); messages in
 * flight when the connection drops fail too (mqtt.js may still resend them on reconnect: a duplicate,
 * never a loss).
 */
export class MqttOutboxTransport implements OutboxTransport {
  private readonly window: number;
  private readonly ackTimeoutMs: number;
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly pending = new Set<(err: Error) => void>();

  constructor(readonly client: MqttClient, options: MqttOutboxTransportOptions = {}) {
    this.window = Math.max(1, options.window ?? 100);
    this.ackTimeoutMs = options.ackTimeoutMs ?? 10_000;
    client.on('close', () => {
      for (const fail of [...this.pending]) fail(new Error('MQTT connection closed before PUBACK'));
    });
  }

  /** Connects a client of its own (reconnecting every second); `close()` ends it. */
  static async connect(url: string, options: IClientOptions & MqttOutboxTransportOptions = {}): Promise<MqttOutboxTransport> {
    const { window, ackTimeoutMs, ...clientOptions } = options;
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 1000, connectTimeout: 5000, ...clientOptions });
    // Connection errors surface as failed publishes; an unhandled 'error' event must not crash us.
    client.on('error', () => undefined);
    return new MqttOutboxTransport(client, {
      ...(window !== undefined ? { window } : {}),
      ...(ackTimeoutMs !== undefined ? { ackTimeoutMs } : {}),
    });
  }

  async publish(batch: readonly OutboxMessage[]): Promise<readonly PublishResult[]> {
    const results: Promise<PublishResult>[] = [];
    for (const m of batch) {
      await this.acquire(); // keeps send order = batch order
      results.push(this.publishOne(m).finally(() => this.release()));
    }
    return Promise.all(results);
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }

  private publishOne(m: OutboxMessage): Promise<PublishResult> {
    if (!this.client.connected) return Promise.resolve({ ok: false, error: new Error('MQTT broker not connected') });
    return new Promise<PublishResult>((resolve) => {
      const settle = (r: PublishResult) => {
        clearTimeout(timer);
        this.pending.delete(fail);
        resolve(r);
      };
      const fail = (error: Error) => settle({ ok: false, error });
      const timer = setTimeout(() => fail(new Error(`no PUBACK within ${this.ackTimeoutMs} ms`)), this.ackTimeoutMs);
      this.pending.add(fail);
      this.client.publishAsync(m.topic, m.body, { qos: 1 }).then(
        () => settle({ ok: true }),
        (err: unknown) => fail(err instanceof Error ? err : new Error(String(err))),
      );
    });
  }

  private async acquire(): Promise<void> {
    while (this.inFlight >= this.window) await new Promise<void>((r) => this.waiting.push(r));
    this.inFlight++;
  }

  private release(): void {
    this.inFlight--;
    this.waiting.shift()?.();
  }
}
