import { toMqttTopic } from '@albergue/events';
import mqtt from 'mqtt';
import type { IClientOptions, IClientPublishOptions, MqttClient } from 'mqtt';
import type { OutgoingMessage, Publisher, PublishResult } from '../ports/publisher.js';
import { memoTopicForm } from './topic-forms.js';
import type { MqttProtocolSetting } from './connect.js';
import { isProtocolRefusal } from './connect.js';
import { traceProperties } from './user-properties.js';

export interface MqttPublisherOptions {
  /** Publishes in flight (sent, PUBACK pending) at most; later ones wait (default 100). */
  readonly window?: number;
  /** A PUBACK not received within this time fails the message (default 10 s). */
  readonly ackTimeoutMs?: number;
  /** Called for each connection error (e.g. every CONNACK refusal while reconnecting), to log it. */
  readonly onConnectionError?: (err: Error, description: string) => void;
}

export interface MqttPublisherConnectOptions extends Omit<IClientOptions, 'protocolVersion'>, MqttPublisherOptions {
  /** 4 (MQTT 3.1.1, default), 5, or `auto`: MQTT 5, falling back to 3.1.1 when the broker refuses 5. */
  readonly protocolVersion?: MqttProtocolSetting;
}

/** The broker did not acknowledge a QoS 1 publish in time. */
export class PubackTimeoutError extends Error {
  constructor(
    readonly topic: string,
    readonly eventId: string,
    readonly timeoutMs: number,
  ) {
    super(
      `no PUBACK from the MQTT broker within ${timeoutMs} ms for ${topic} (event_id ${eventId}); the publish may still complete after a reconnect`,
    );
    this.name = 'PubackTimeoutError';
  }
}

/** A message queued or in flight, and where its result goes. */
interface Pending {
  readonly message: OutgoingMessage;
  readonly settle: (result: PublishResult) => void;
  /** When the PUBACK is overdue (set when sent). */
  deadline: number;
}

const QOS1: IClientPublishOptions = { qos: 1 };
const OK: PublishResult = { ok: true };

/**
 * `Publisher` over mqtt.js: QoS 1 publishes through one FIFO queue and a window of in-flight
 * publishes shared by every `publish` call, so messages leave in call order (a later call's batch
 * queues behind an earlier one instead of interleaving with it). While the client is disconnected
 * messages fail at once (nothing is queued in mqtt.js' memory, so the relay's backoff — not the
 * client — decides when to retry); messages in flight when the connection drops fail too (mqtt.js
 * may still resend them on reconnect: a duplicate, never a loss).
 */
export class MqttPublisher implements Publisher {
  private readonly window: number;
  private readonly ackTimeoutMs: number;
  /** Waiting to be sent, oldest first; `queue[next]` is the next to send. */
  private queue: Pending[] = [];
  private next = 0;
  /** Sent and awaiting PUBACK, in send order (so the first one is the next to time out). */
  private readonly inFlight = new Set<Pending>();
  private timer: NodeJS.Timeout | undefined;
  private pumping = false;
  private pumpQueued = false;
  /** The last connection problem (a CONNACK refusal, a network error), cleared on CONNACK. */
  private lastProblem: string | undefined;
  /** Logical → MQTT topic. */
  private readonly mqttTopic = memoTopicForm(toMqttTopic, 10_000);
  /** MQTT 5: each publish carries the envelope's correlation and causation ids as user properties. */
  private readonly v5: boolean;

  constructor(
    readonly client: MqttClient,
    options: MqttPublisherOptions = {},
  ) {
    this.window = Math.max(1, options.window ?? 100);
    this.ackTimeoutMs = options.ackTimeoutMs ?? 10_000;
    this.v5 = client.options.protocolVersion === 5;
    client.on('close', () => {
      const error = new Error('MQTT connection closed before PUBACK');
      for (const p of [...this.inFlight]) this.finish(p, { ok: false, error });
      this.lastProblem ??= 'connection closed, reconnecting';
      this.pump();
    });
    client.on('error', (err) => {
      const code = (err as { code?: unknown }).code;
      this.lastProblem =
        typeof code === 'number'
          ? `connack refused: ${err.message.replace(/^Connection refused: /i, '').toLowerCase()} (return code ${code})`
          : err.message;
      options.onConnectionError?.(err, this.lastProblem);
    });
    client.on('connect', () => {
      this.lastProblem = undefined;
    });
  }

  /** Whether the broker connection is up, and if not the last reason (e.g. `connack refused: bad username or password`). */
  status(): { readonly connected: boolean; readonly reason?: string } {
    if (this.client.connected) return { connected: true };
    return { connected: false, reason: this.lastProblem ?? (this.client.reconnecting ? 'reconnecting' : 'disconnected') };
  }

  /**
   * Connects a client of its own (reconnecting every second, also after a CONNACK refusal such as
   * a password rotated during a rollout); `close()` ends it.
   */
  static async connect(url: string, options: MqttPublisherConnectOptions = {}): Promise<MqttPublisher> {
    const { window, ackTimeoutMs, onConnectionError, protocolVersion, ...clientOptions } = options;
    const attempt = (version: 4 | 5) =>
      mqtt.connectAsync(url, {
        reconnectPeriod: 1000,
        connectTimeout: 5000,
        reconnectOnConnackError: true,
        ...clientOptions,
        protocolVersion: version,
      });
    let client: MqttClient;
    if (protocolVersion === 'auto') {
      try {
        client = await attempt(5);
      } catch (err) {
        if (!isProtocolRefusal(err)) throw err;
        client = await attempt(4);
      }
    } else client = await attempt(protocolVersion ?? 4);
    // Connection errors surface as failed publishes and in status(); an unhandled 'error' event must not crash us.
    client.on('error', () => undefined);
    return new MqttPublisher(client, {
      ...(window !== undefined ? { window } : {}),
      ...(ackTimeoutMs !== undefined ? { ackTimeoutMs } : {}),
      ...(onConnectionError ? { onConnectionError } : {}),
    });
  }

  publish(batch: readonly OutgoingMessage[]): Promise<readonly PublishResult[]> {
    if (batch.length === 0) return Promise.resolve([]);
    return new Promise((resolve) => {
      const results = new Array<PublishResult>(batch.length);
      let left = batch.length;
      batch.forEach((message, i) => {
        this.queue.push({
          message,
          deadline: 0,
          settle: (r) => {
            results[i] = r;
            if (--left === 0) resolve(results);
          },
        });
      });
      this.schedulePump();
    });
  }

  /**
   * Ends the client. Publishes whose PUBACK never came (timed out, so already reported failed) would
   * make a graceful mqtt.js end wait for ever: then the connection is closed at once.
   */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.client.endAsync(Object.keys(this.client.outgoing).length > 0);
  }

  /**
   * Pumps once the current burst of PUBACKs is handled. mqtt.js handles each incoming packet in its
   * own process.nextTick and flushes the packets written in a tick with one writev; a microtask runs
   * after those ticks, so the publishes freed by one socket read leave in one write, not one each
   * (per-message writes doubled the relay's socket CPU).
   */
  private schedulePump(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    queueMicrotask(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  /** Sends queued messages while the window has room. */
  private pump(): void {
    if (this.pumping) return; // a synchronous callback re-entered: the outer loop carries on
    this.pumping = true;
    try {
      while (this.inFlight.size < this.window && this.next < this.queue.length) {
        const p = this.queue[this.next]!;
        this.next++;
        if (!this.client.connected) {
          p.settle({ ok: false, error: new Error('MQTT broker not connected') });
          continue;
        }
        p.deadline = Date.now() + this.ackTimeoutMs;
        this.inFlight.add(p);
        const options = this.v5 ? traceProperties(p.message.body) : QOS1;
        this.client.publish(this.mqttTopic(p.message.topic), p.message.body, options, (err) => {
          this.finish(p, err ? { ok: false, error: err } : OK);
          this.schedulePump();
        });
      }
      if (this.next === this.queue.length) {
        this.queue = [];
        this.next = 0;
      } else if (this.next > 1024) {
        this.queue = this.queue.slice(this.next);
        this.next = 0;
      }
    } finally {
      this.pumping = false;
    }
    this.armTimer();
  }

  /** Settles an in-flight message once (a PUBACK after its timeout or the close is ignored). */
  private finish(p: Pending, result: PublishResult): void {
    if (!this.inFlight.delete(p)) return;
    if (this.inFlight.size === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    p.settle(result);
  }

  /** One timer for the oldest in-flight message: every message has the same timeout. */
  private armTimer(): void {
    if (this.timer || this.inFlight.size === 0) return;
    const oldest = this.inFlight.values().next().value!;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        const now = Date.now();
        for (const p of this.inFlight) {
          if (p.deadline > now) break;
          this.finish(p, { ok: false, error: new PubackTimeoutError(p.message.topic, p.message.eventId, this.ackTimeoutMs) });
        }
        this.pump();
      },
      Math.max(0, oldest.deadline - Date.now()),
    );
  }
}
