// One instance of the bench's consumer group, in its own process (a child of bench/scale.ts, talking
// over the IPC channel). It starts a consumer on command — the runtime's createConsumer with its
// defaults (worker concurrency 32, persistent ledger in Redis) — whose handler is
//   io:  `await setTimeout(20)` (a handler waiting on I/O), then the effect;
//   cpu: the effect alone;
// the effect being `SET <namespace>fx:<event_id> <instance> NX` on the private Redis: "OK" counts a
// handled event, a nil reply an event handled twice. It reports its counters every 100 ms while running.
// MQTT_SUBSCRIPTION_MODE (fanout | shared) comes with each start command and is set in the process's
// environment before the consumer is built, as a service would have it (one process serves both modes,
// one after the other: a process start costs seconds here), and passed as the consumer's
// `subscriptionMode`. The client speaks MQTT 5 where the broker does (`auto`, as services do).
import { setTimeout as sleep } from 'node:timers/promises';
import { BookingReserved } from '@albergue/events';
import { createConsumer, declareService, RedisDeliveryLedger } from '@albergue/messaging';
import type { Consumer, ConsumerOptions, SubscriptionMode } from '@albergue/messaging';

export type HandlerKind = 'io' | 'cpu';

interface StartCommand {
  readonly cmd: 'start';
  /** MQTT_SUBSCRIPTION_MODE for this consumer: set in this process's environment before it is built. */
  readonly mode: SubscriptionMode;
  readonly mqttUrl: string;
  readonly redisUrl: string;
  readonly namespace: string;
  readonly handler: HandlerKind;
  readonly clientId: string;
  readonly username?: string;
  readonly password?: string;
}
export type ToInstance = StartCommand | { readonly cmd: 'stop' };

export interface InstanceStats {
  /** MQTT messages this instance received (every message in fanout mode; its share with shared subscriptions). */
  readonly received: number;
  /** Events whose effect this instance wrote first. */
  readonly effects: number;
  /** Effects found already written (an event handled twice). */
  readonly repeatedEffects: number;
  /** Wall-clock ms of this instance's last effect (0 before the first). */
  readonly lastEffectAt: number;
}
export type FromInstance =
  | { readonly cmd: 'listening' }
  | { readonly cmd: 'ready' }
  | { readonly cmd: 'failed'; readonly reason: string }
  | { readonly cmd: 'stats'; readonly stats: InstanceStats }
  | { readonly cmd: 'stopped'; readonly stats: InstanceStats };

/** The consumer group under test: one subscription, exactly as a service declares it. */
const SCALE_DECLARATION = declareService({
  service: 'scale',
  context: 'payment',
  publishes: [],
  subscribes: [{ event: BookingReserved, handler: 'scaleOnBookingReserved' }],
});

const START_TIMEOUT_MS = 15_000;
const now = () => performance.timeOrigin + performance.now();

interface Running {
  readonly consumer: Consumer;
  readonly ledger: RedisDeliveryLedger;
  readonly timer: NodeJS.Timeout;
  readonly counts: { effects: number; repeatedEffects: number; lastEffectAt: number };
}

export function runInstance(): void {
  const send = (m: FromInstance) => {
    // The bench may be gone (a failed start): an undeliverable report is dropped, not an error.
    if (process.connected) process.send?.(m, undefined, {}, () => undefined);
  };
  let running: Running | undefined;
  const stats = (r: Running): InstanceStats => ({ received: r.consumer.transport.stats.received, ...r.counts });

  const start = async (c: StartCommand): Promise<void> => {
    const ledger = new RedisDeliveryLedger({ url: c.redisUrl, namespace: c.namespace });
    process.env.MQTT_SUBSCRIPTION_MODE = c.mode;
    const options: ConsumerOptions = {
      declaration: SCALE_DECLARATION,
      mqtt: {
        url: c.mqttUrl,
        clientId: c.clientId,
        clean: true,
        protocolVersion: 'auto',
        ...(c.username !== undefined ? { username: c.username, password: c.password ?? '' } : {}),
      },
      ledger,
      deadLetters: ledger.deadLetters,
      breakers: ledger.breakers,
      subscriptionMode: c.mode,
    };
    const consumer = createConsumer(options);
    const counts = { effects: 0, repeatedEffects: 0, lastEffectAt: 0 };
    const redis = ledger.conn.redis;
    const effect = async (eventId: string) => {
      const ok = await redis.set(`${c.namespace}fx:${eventId}`, process.pid, 'NX');
      if (ok === 'OK') {
        counts.effects++;
        counts.lastEffectAt = now();
      } else counts.repeatedEffects++;
    };
    consumer.on(BookingReserved, 'scaleOnBookingReserved', async (ctx) => {
      if (c.handler === 'io') await sleep(20);
      await effect(ctx.event.event_id);
    });
    let timeout: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        consumer.start(),
        new Promise<never>((_, reject) => {
          timeout = setTimeout(
            () =>
              reject(
                new Error(
                  `the consumer did not start within ${START_TIMEOUT_MS / 1000} s (${consumer.health().reason ?? 'no reason given'})`,
                ),
              ),
            START_TIMEOUT_MS,
          );
        }),
      ]);
    } catch (err) {
      await Promise.allSettled([consumer.close()]);
      await ledger.close();
      send({ cmd: 'failed', reason: err instanceof Error ? err.message : String(err) });
      return;
    } finally {
      clearTimeout(timeout);
    }
    const timer = setInterval(() => running && send({ cmd: 'stats', stats: stats(running) }), 100);
    running = { consumer, ledger, timer, counts };
    send({ cmd: 'ready' });
  };

  const stop = async (): Promise<void> => {
    const r = running;
    running = undefined;
    if (!r) return send({ cmd: 'stopped', stats: { received: 0, effects: 0, repeatedEffects: 0, lastEffectAt: 0 } });
    clearInterval(r.timer);
    await r.consumer.close();
    const final = stats(r);
    await r.ledger.close();
    send({ cmd: 'stopped', stats: final });
  };

  process.on('message', (m: ToInstance) => {
    const done = m.cmd === 'start' ? start(m) : stop();
    done.catch((err: unknown) => send({ cmd: 'failed', reason: err instanceof Error ? err.message : String(err) }));
  });
  // The bench went away: stop consuming and end.
  process.on('disconnect', () => void stop().finally(() => process.exit(0)));
  send({ cmd: 'listening' });
}
