// A wildcard subscriber (audit's `albergue/#`, declared with subscribesAll) receives every event
// live while location, booking and payment publish at once: on Aedes in memory, Aedes on Redis
// persistence (where Aedes 1.2 once held wildcard deliveries back: FACTS.md, adapters/mqtt/delivery-order.ts)
// and the machine's Mosquitto. Each event is recorded under its own logical topic; the wildcard's
// exception (AuditLogged) is never recorded; the broker's ACL grants the filter.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { EventDefinition, EventEnvelope } from '@albergue/events';
import { AuditLogged, newEnvelope } from '@albergue/events';
import { SAMPLE_PAYLOADS } from '@albergue/events/node';
import type { Consumer, ServiceDeclaration } from '@albergue/messaging';
import { MemoryDeliveryLedger, MqttPublisher, createConsumer, declareService, toOutgoing } from '@albergue/messaging';
import { mosquittoPath, startMosquitto } from '@albergue/messaging/testing';
import type { TestBroker } from '@albergue/messaging/testing';
import { uniqueName, waitFor } from '@albergue/platform/testing';
import { devPassword } from '../../config/credentials.js';
import { OBSERVER_ACCOUNT } from '../../application/acl-from-declarations.js';
import type { RunningBroker } from '../../start.js';
import type { MqttClient } from 'mqtt';
import { ADMIN_TOKEN, asService, closeMqtt, connectMqtt, startRedisServer, startTestBroker } from '../../testing/harness.js';
import type { TestRedis } from '../../testing/harness.js';
import { TEST_DECLARATIONS } from '../../testing/declarations.js';

const AUDIT = declareService({
  service: 'audit',
  context: 'audit',
  publishes: [AuditLogged],
  subscribes: [],
  subscribesAll: { filter: 'albergue/#', handler: 'recordOnAnyEvent', except: [AuditLogged] },
});
const DECLARATIONS: readonly ServiceDeclaration[] = [...TEST_DECLARATIONS.filter((d) => d.service !== 'audit'), AUDIT];
const PUBLISHERS = ['location', 'booking', 'payment'] as const;
const PER_PUBLISHER = 400;
const AUDIT_LOGGED = 60;

const sample = (def: EventDefinition, i: number): EventEnvelope =>
  newEnvelope(def as typeof AuditLogged, { ...(SAMPLE_PAYLOADS as Record<string, object>)[def.name], n: i } as never);

type Kind = 'aedes-memory' | 'aedes-redis' | 'mosquitto';
const kinds: Kind[] = ['aedes-memory', 'aedes-redis', ...(mosquittoPath() ? (['mosquitto'] as const) : [])];

for (const kind of kinds) {
  describe(`wildcard subscriber on ${kind}`, () => {
    let broker: RunningBroker | undefined;
    let mosquitto: TestBroker | undefined;
    let redis: TestRedis | undefined;
    let url = '';
    let consumer: Consumer;
    const ledger = new MemoryDeliveryLedger();
    const handled = new Map<string, number>();
    const publishers: MqttPublisher[] = [];
    const extra: MqttClient[] = [];

    before(async () => {
      if (kind === 'mosquitto') {
        mosquitto = await startMosquitto();
        url = mosquitto.url;
      } else {
        if (kind === 'aedes-redis') redis = await startRedisServer();
        broker = await startTestBroker({
          wsPort: null,
          declarations: DECLARATIONS,
          users: new Map([...DECLARATIONS.map((d) => d.service), OBSERVER_ACCOUNT].map((u) => [u, devPassword(u)])),
          adminToken: ADMIN_TOKEN,
          ...(redis ? { redisUrl: redis.url } : {}),
        });
        url = broker.mqttUrl;
      }
      consumer = createConsumer({
        declaration: AUDIT,
        mqtt: { url, username: 'audit', password: devPassword('audit') },
        instanceId: uniqueName('w'),
        ledger,
        deadLetters: ledger.deadLetters,
      });
      consumer.onAll('recordOnAnyEvent', (ctx) => {
        handled.set(`${ctx.topic} ${ctx.event.event_id}`, (handled.get(`${ctx.topic} ${ctx.event.event_id}`) ?? 0) + 1);
      });
      await consumer.start();
      // Persistent exact subscribers on one topic lengthen its persistence round trip (what made Aedes hold wildcard deliveries back).
      for (let i = 0; i < 4; i++) {
        const c = await connectMqtt(url, asService('payment', { clientId: uniqueName(`albergue-payment-x${i}`), clean: false }));
        await c.subscribeAsync('albergue/booking/v1/BookingReserved', { qos: 1 });
        extra.push(c);
      }
      for (const account of [...PUBLISHERS, 'audit']) {
        publishers.push(
          await MqttPublisher.connect(url, {
            clientId: uniqueName(`albergue-${account}-pub`),
            username: account,
            password: devPassword(account),
          }),
        );
      }
    });

    after(async () => {
      await consumer?.close();
      for (const p of publishers) await p.close();
      await closeMqtt(...extra);
      await broker?.close();
      await mosquitto?.close();
      await redis?.stop();
    });

    test('every event of three concurrent publishers arrives live, once, under its own topic; AuditLogged is skipped', async () => {
      const sent: EventEnvelope[] = [];
      const runs = PUBLISHERS.map(async (account, p) => {
        const defs = DECLARATIONS.find((d) => d.service === account)!.publishes;
        const batch = Array.from({ length: PER_PUBLISHER }, (_, i) => sample(defs[i % defs.length]!, i));
        sent.push(...batch);
        // Windows of 50 in flight per publisher, all three at once.
        for (let i = 0; i < batch.length; i += 50) {
          const results = await publishers[p]!.publish(batch.slice(i, i + 50).map(toOutgoing));
          assert.ok(
            results.every((r) => r.ok),
            `${account} publish acknowledged`,
          );
        }
      });
      const own = Array.from({ length: AUDIT_LOGGED }, (_, i) => sample(AuditLogged, i));
      runs.push(
        (async () => {
          const results = await publishers[3]!.publish(own.map(toOutgoing));
          assert.ok(
            results.every((r) => r.ok),
            'AuditLogged published',
          );
        })(),
      );
      await Promise.all(runs);
      const total = PUBLISHERS.length * PER_PUBLISHER;
      await waitFor(() => handled.size >= total && consumer.transport.stats.skipped >= AUDIT_LOGGED, {
        timeoutMs: 30_000,
        message: `all ${total} events handled live (have ${handled.size}) and ${AUDIT_LOGGED} AuditLogged skipped`,
      });
      for (const e of sent) {
        const topic = toOutgoing(e).topic;
        assert.equal(handled.get(`${topic} ${e.event_id}`), 1, `${e.event_type} ${e.event_id} handled once`);
      }
      assert.equal(handled.size, total, 'nothing else was handled (no AuditLogged)');
      assert.equal(consumer.transport.stats.skipped, AUDIT_LOGGED);
      const depth = await ledger.depth('audit');
      assert.equal(depth[AuditLogged.topic], undefined, 'AuditLogged has no ledger entry');
      // Recorded under the event's own logical topic: mqtt:processed:audit:<topic>.
      await waitFor(
        async () => (await Promise.all(sent.map((e) => ledger.isProcessed('audit', toOutgoing(e).topic, e.event_id)))).every(Boolean),
        {
          message: 'every event processed in the ledger under its topic',
        },
      );
      assert.deepEqual(await ledger.deadLetters.topics(), [], 'nothing dead-lettered');
    });

    if (kind === 'mosquitto')
      test('an event on a topic under the filter that no definition knows is dead-lettered with the reason, never handled', async () => {
        const raw = await connectMqtt(url, { clientId: uniqueName('albergue-raw'), username: 'x', password: 'x' });
        try {
          const v9 = { ...sample(DECLARATIONS[1]!.publishes[0]!, 1), event_version: 9 };
          await raw.publishAsync('albergue/booking/v9/BookingReserved', JSON.stringify(v9), { qos: 1 });
          await raw.publishAsync('albergue/nothing/here', '{"not":"an envelope"}', { qos: 1 });
          await raw.publishAsync('albergue/bad topic:x', 'x', { qos: 1 });
          await waitFor(async () => (await ledger.deadLetters.topics()).length >= 2, { message: 'two dead letters' });
          const topics = (await ledger.deadLetters.topics()).map((t) => t.topic).sort();
          assert.deepEqual(topics, ['albergue.booking.v9.BookingReserved', 'albergue.nothing.here']);
          const [entry] = await ledger.deadLetters.list('albergue.booking.v9.BookingReserved');
          assert.equal(entry?.reason, 'invalid_envelope');
          assert.equal(entry?.subscriber, 'audit');
          assert.match(entry?.errors.map((e) => e.message).join(' ') ?? '', /v9|version/i);
          await waitFor(() => consumer.transport.stats.skipped >= AUDIT_LOGGED + 1, { message: 'the topic no key can hold is skipped' });
          assert.equal(handled.size, PUBLISHERS.length * PER_PUBLISHER, 'no handler ran for them');
        } finally {
          await closeMqtt(raw);
        }
      });
  });
}
