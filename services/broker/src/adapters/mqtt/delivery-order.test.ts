// Issue 10 item 1: every QoS 1 message the broker acknowledged reaches every matching live
// subscription, without a reconnect, in each publisher's order — on memory and on Redis persistence,
// clean and persistent sessions, wildcard and exact filters. Several extra persistent subscribers on
// one topic lengthen its persistence round trip, which is what made Aedes 1.2 hold messages back.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { uniqueName, waitFor } from '@albergue/platform/testing';
import type { RunningBroker } from '../../start.js';
import { asService, closeMqtt, connectMqtt, startRedisServer, startTestBroker } from '../../testing/harness.js';

const RESERVED = 'albergue/booking/v1/BookingReserved';
const CONFIRMED = 'albergue/booking/v1/BookingConfirmed';
const PAID = 'albergue/payment/v1/PaymentConfirmed';
const REGISTERED = 'albergue/location/v1/AlbergueRegistered';

interface Message {
  readonly p: string;
  readonly seq: number;
}

/** A live subscriber: what it received per publisher, in arrival order, and whether it ever lost its connection. */
interface Probe {
  readonly name: string;
  readonly clientId: string;
  readonly persistent: boolean;
  readonly client: MqttClient;
  readonly got: Map<string, number[]>;
  closed: boolean;
}

async function probe(url: string, name: string, account: string, filters: string[], persistent: boolean): Promise<Probe> {
  const clientId = uniqueName(`albergue-${account}-${name}`).slice(0, 60);
  const got = new Map<string, number[]>();
  const record = (_topic: string, payload: Buffer) => {
    const m = JSON.parse(payload.toString()) as Message;
    let list = got.get(m.p);
    if (!list) got.set(m.p, (list = []));
    list.push(m.seq);
  };
  const client = await connectMqtt(url, asService(account, { clientId, clean: !persistent }), record);
  const p: Probe = { name, clientId, persistent, client, got, closed: false };
  client.on('close', () => {
    p.closed = true;
  });
  await client.subscribeAsync(filters, { qos: 1 });
  return p;
}

/** Publishes `count` QoS 1 messages, at most `window` unacknowledged at a time, round robin over `topics`. */
async function publishAll(client: MqttClient, p: string, topics: readonly string[], count: number, window = 100): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let seq = next++; seq < count; seq = next++) {
      await client.publishAsync(topics[seq % topics.length]!, JSON.stringify({ p, seq } satisfies Message), { qos: 1 });
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
}

/** Messages of the broker's persistence still queued for a client (delivered-and-unacked or held back). */
async function queued(broker: RunningBroker, clientId: string): Promise<number> {
  const persistence = (broker.mqtt.aedes as unknown as { persistence: { outgoingStream(c: { id: string }): AsyncIterable<unknown> } })
    .persistence;
  let n = 0;
  for await (const _ of persistence.outgoingStream({ id: clientId })) n++;
  return n;
}

function summary(probes: readonly Probe[], expected: ReadonlyMap<string, number>): string {
  return probes
    .map(
      (pr) =>
        `${pr.name}${pr.closed ? ' (disconnected)' : ''}: ${[...expected.keys()].map((p) => `${p}=${pr.got.get(p)?.length ?? 0}/${expected.get(p)}`).join(' ')}`,
    )
    .join('; ');
}

const COUNT = 1000;

for (const kind of ['memory', 'redis'] as const) {
  describe(`QoS 1 delivery under concurrent publishers (${kind} persistence)`, () => {
    let redis: Awaited<ReturnType<typeof startRedisServer>> | undefined;
    before(async () => {
      if (kind === 'redis') redis = await startRedisServer();
    });
    after(async () => {
      await redis?.stop();
    });
    const brokerOptions = () => ({ wsPort: null, ...(redis ? { redisUrl: redis.url } : {}) });

    test(`3 publishers × ${COUNT}: wildcard and exact, clean and persistent subscribers all get 100% live, in each publisher's order`, async () => {
      const broker = await startTestBroker(brokerOptions());
      const clients: (MqttClient | undefined)[] = [];
      try {
        const exact = [RESERVED, PAID, REGISTERED];
        const counted = [
          await probe(broker.mqttUrl, 'wild-clean', 'observer', ['albergue/#'], false),
          await probe(broker.mqttUrl, 'wild-persist', 'observer', ['albergue/#'], true),
          await probe(broker.mqttUrl, 'exact-clean', 'audit', exact, false),
          await probe(broker.mqttUrl, 'exact-persist', 'audit', exact, true),
        ];
        // Extra persistent subscribers on one topic only: its persistence round trip gets longer.
        const extras = [];
        for (let i = 0; i < 4; i++) extras.push(await probe(broker.mqttUrl, `extra-${i}`, 'payment', [RESERVED], true));
        clients.push(...counted.map((c) => c.client), ...extras.map((c) => c.client));

        const publishers = [
          { p: 'booking', topic: RESERVED },
          { p: 'payment', topic: PAID },
          { p: 'location', topic: REGISTERED },
        ];
        const pubs = await Promise.all(
          publishers.map((x) => connectMqtt(broker.mqttUrl, asService(x.p, { clientId: uniqueName(`albergue-${x.p}-pub`) }))),
        );
        clients.push(...pubs);
        await Promise.all(publishers.map((x, i) => publishAll(pubs[i]!, x.p, [x.topic], COUNT)));

        const expected = new Map(publishers.map((x) => [x.p, COUNT]));
        const all = [...counted, ...extras];
        const complete = (pr: Probe) =>
          pr.name.startsWith('extra')
            ? (pr.got.get('booking')?.length ?? 0) >= COUNT
            : [...expected].every(([p, n]) => (pr.got.get(p)?.length ?? 0) >= n);
        await waitFor(() => all.every(complete), {
          timeoutMs: 30_000,
          message: `every subscriber to receive every message live — ${summary(all, expected)}`,
        });

        const inOrder = Array.from({ length: COUNT }, (_, i) => i);
        for (const pr of counted) {
          assert.equal(pr.closed, false, `${pr.name} was disconnected`);
          for (const x of publishers) assert.deepEqual(pr.got.get(x.p), inOrder, `${pr.name}: ${x.p}'s messages, once each, in its order`);
        }
        for (const pr of extras) assert.deepEqual(pr.got.get('booking'), inOrder, `${pr.name}: booking's messages in order`);
        // Nothing is held back in the broker's outgoing queues once the subscribers have acked.
        for (const pr of all.filter((x) => x.persistent)) {
          await waitFor(async () => (await queued(broker, pr.clientId)) === 0, {
            timeoutMs: 10_000,
            message: `${pr.name}'s outgoing queue to drain (${await queued(broker, pr.clientId)} left)`,
          });
        }
      } finally {
        await closeMqtt(...clients);
        await broker.close();
      }
    });

    test('a client with overlapping subscriptions gets each message once (the exact-duplicate check still works)', async () => {
      const broker = await startTestBroker(brokerOptions());
      const clients: (MqttClient | undefined)[] = [];
      try {
        const both = await probe(broker.mqttUrl, 'overlap', 'observer', ['albergue/#', 'albergue/booking/#', RESERVED], true);
        clients.push(both.client);
        for (let i = 0; i < 2; i++) clients.push((await probe(broker.mqttUrl, `extra-${i}`, 'payment', [RESERVED], true)).client);
        const pubs = [
          await connectMqtt(broker.mqttUrl, asService('booking', { clientId: uniqueName('albergue-booking-pub') })),
          await connectMqtt(broker.mqttUrl, asService('payment', { clientId: uniqueName('albergue-payment-pub') })),
        ];
        clients.push(...pubs);
        await Promise.all([publishAll(pubs[0]!, 'booking', [RESERVED], 300), publishAll(pubs[1]!, 'payment', [PAID], 300)]);
        await waitFor(() => (both.got.get('booking')?.length ?? 0) >= 300 && (both.got.get('payment')?.length ?? 0) >= 300, {
          timeoutMs: 20_000,
          message: 'every message',
        });
        // A duplicate would arrive right behind its first copy; a publisher's last message proves the queue is drained.
        await waitFor(async () => (await queued(broker, both.clientId)) === 0, { timeoutMs: 10_000, message: 'outgoing queue drained' });
        const inOrder = Array.from({ length: 300 }, (_, i) => i);
        assert.deepEqual(both.got.get('booking'), inOrder);
        assert.deepEqual(both.got.get('payment'), inOrder);
      } finally {
        await closeMqtt(...clients);
        await broker.close();
      }
    });

    if (kind === 'redis') {
      test('two broker instances on one Redis: publishers on one, subscribers on both, all live and in order', async () => {
        const a = await startTestBroker(brokerOptions());
        const b = await startTestBroker(brokerOptions());
        const clients: (MqttClient | undefined)[] = [];
        try {
          const counted = [
            await probe(a.mqttUrl, 'a-wild-clean', 'observer', ['albergue/#'], false),
            await probe(b.mqttUrl, 'b-wild-clean', 'observer', ['albergue/#'], false),
            await probe(b.mqttUrl, 'b-wild-persist', 'observer', ['albergue/#'], true),
            await probe(b.mqttUrl, 'b-exact-persist', 'audit', [RESERVED, PAID], true),
          ];
          clients.push(...counted.map((c) => c.client));
          for (let i = 0; i < 4; i++)
            clients.push((await probe(i % 2 ? a.mqttUrl : b.mqttUrl, `extra-${i}`, 'payment', [RESERVED], true)).client);
          const pubs = [
            await connectMqtt(a.mqttUrl, asService('booking', { clientId: uniqueName('albergue-booking-pub') })),
            await connectMqtt(a.mqttUrl, asService('payment', { clientId: uniqueName('albergue-payment-pub') })),
          ];
          clients.push(...pubs);
          await Promise.all([
            publishAll(pubs[0]!, 'booking', [RESERVED, CONFIRMED], COUNT),
            publishAll(pubs[1]!, 'payment', [PAID], COUNT),
          ]);
          const expected = new Map([
            ['booking', COUNT],
            ['payment', COUNT],
          ]);
          const wanted = (pr: Probe, p: string) => (pr.name === 'b-exact-persist' && p === 'booking' ? COUNT / 2 : COUNT);
          await waitFor(() => counted.every((pr) => [...expected.keys()].every((p) => (pr.got.get(p)?.length ?? 0) >= wanted(pr, p))), {
            timeoutMs: 30_000,
            message: `every message live on both instances — ${summary(counted, expected)}`,
          });
          for (const pr of counted) {
            assert.equal(pr.closed, false, `${pr.name} was disconnected`);
            assert.deepEqual(
              pr.got.get('payment'),
              Array.from({ length: COUNT }, (_, i) => i),
              `${pr.name}: payment's order`,
            );
            const booking =
              pr.name === 'b-exact-persist'
                ? Array.from({ length: COUNT / 2 }, (_, i) => i * 2)
                : Array.from({ length: COUNT }, (_, i) => i);
            assert.deepEqual(pr.got.get('booking'), booking, `${pr.name}: booking's order`);
          }
        } finally {
          await closeMqtt(...clients);
          await a.close();
          await b.close();
        }
      });
    }

    test('one publisher on a slow and a fast topic: a wildcard subscriber sees its messages in the order they were sent', async () => {
      const broker = await startTestBroker(brokerOptions());
      const clients: (MqttClient | undefined)[] = [];
      try {
        const wild = await probe(broker.mqttUrl, 'wild', 'observer', ['albergue/#'], false);
        const wildPersist = await probe(broker.mqttUrl, 'wild-persist', 'observer', ['albergue/#'], true);
        clients.push(wild.client, wildPersist.client);
        // RESERVED has persistent subscribers (slow enqueue on Redis); CONFIRMED has none but the wildcards.
        for (let i = 0; i < 4; i++) clients.push((await probe(broker.mqttUrl, `extra-${i}`, 'payment', [RESERVED], true)).client);
        const pub = await connectMqtt(broker.mqttUrl, asService('booking', { clientId: uniqueName('albergue-booking-pub') }));
        clients.push(pub);
        await publishAll(pub, 'booking', [RESERVED, CONFIRMED], COUNT);
        await waitFor(() => [wild, wildPersist].every((w) => (w.got.get('booking')?.length ?? 0) >= COUNT), {
          timeoutMs: 30_000,
          message: `all messages (${wild.got.get('booking')?.length ?? 0}, ${wildPersist.got.get('booking')?.length ?? 0})`,
        });
        for (const w of [wild, wildPersist])
          assert.deepEqual(
            w.got.get('booking'),
            Array.from({ length: COUNT }, (_, i) => i),
            `${w.name}: the publisher's order across topics`,
          );
      } finally {
        await closeMqtt(...clients);
        await broker.close();
      }
    });
  });
}
