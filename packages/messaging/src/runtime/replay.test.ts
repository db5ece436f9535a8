// Replay from the DLQ through the running consumer: a dry run changes nothing; after the fault is
// fixed a real replay gets the message handled with a fresh attempt budget; garbage stays.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { BookingReserved, toMqttTopic } from '@albergue/events';
import { uniqueName, waitFor } from '@albergue/platform/testing';
import { declareService } from '../declarations.js';
import { DlqOperations } from '../dlq/operations.js';
import { connectMqtt, endMqtt } from '../mqtt/connect.js';
import { MqttPublisher } from '../mqtt/publisher.js';
import { publishAll } from '../ports/publisher.js';
import { toOutgoing } from '../mqtt/outgoing.js';
import { bookingReserved, startAedes } from '../testing/index.js';
import { ledgerKinds, startTestLedger } from '../testing/ledgers.js';
import { createConsumer } from './consumer.js';

const topic = BookingReserved.topic;

for (const kind of ledgerKinds()) {
  test(`replay from the DLQ (${kind} ledger): dry run, then real → handled after the fault is fixed`, async () => {
    const broker = await startAedes();
    const ledger = await startTestLedger(kind);
    const subscriber = uniqueName('replay');
    const publisher = await MqttPublisher.connect(broker.url, { clientId: uniqueName('pub'), clean: true });
    const raw = await connectMqtt({ url: broker.url, clientId: uniqueName('raw'), clean: true });
    let fixed = false;
    const calls: { attempt: number; ok: boolean }[] = [];
    const consumer = createConsumer({
      declaration: declareService({
        service: 'payment',
        context: 'payment',
        publishes: [],
        subscribes: [
          {
            event: BookingReserved,
            handler: 'replayOnBookingReserved',
            subscriber,
            policy: {
              maxAttempts: 2,
              backoff: { initialMs: 20, maxMs: 50, multiplier: 2, jitter: 0 },
              visibilityTimeoutMs: 3_000,
              dedupWindowMs: 60_000,
            },
          },
        ],
      }),
      subscriber,
      mqtt: { url: broker.url },
      ...ledger,
      worker: { maxIdleMs: 20 },
    });
    consumer.on(BookingReserved, 'replayOnBookingReserved', (ctx) => {
      calls.push({ attempt: ctx.attempt, ok: fixed });
      if (!fixed) throw new Error('downstream rejects it');
    });
    const ops = new DlqOperations({ deadLetters: ledger.deadLetters, ledger: ledger.ledger });
    try {
      await consumer.start();
      const e = bookingReserved('bk-replay');
      await publishAll(publisher, [toOutgoing(e)]);
      await raw.publishAsync(toMqttTopic(topic), '{"garbage":true}', { qos: 1 });
      await waitFor(async () => (await ledger.deadLetters.list(topic)).filter((d) => d.subscriber === subscriber).length === 2, {
        message: 'failed message and garbage dead-lettered',
      });
      assert.equal(calls.length, 2);

      const dry = await ops.replay(topic, { subscriber, dryRun: true });
      assert.equal(dry.dryRun, true);
      assert.equal(dry.invalid, 1);
      assert.deepEqual(
        dry.entries.filter((x) => x.id === e.event_id).map((x) => x.outcome),
        ['would-replay'],
      );
      assert.equal((await ledger.deadLetters.list(topic)).length, 2, 'a dry run changes nothing');
      assert.equal(
        Object.values(await ledger.ledger.depth(subscriber)).reduce((a, b) => a + b, 0),
        0,
      );

      fixed = true;
      const real = await ops.replay(topic, { subscriber });
      assert.equal(real.replayed, 1);
      await waitFor(async () => ledger.ledger.isProcessed(subscriber, topic, e.event_id), { message: 'replayed message handled' });
      // Fresh budget: the replay ran as attempt 1 again, and succeeded.
      assert.deepEqual(calls.at(-1), { attempt: 1, ok: true });
      assert.equal(calls.length, 3);
      const left = await ledger.deadLetters.list(topic);
      assert.deepEqual(
        left.map((d) => d.reason),
        ['invalid_envelope'],
        'only the garbage stays',
      );
    } finally {
      await consumer.close();
      await endMqtt(raw);
      await publisher.close();
      await ledger.close();
      await broker.close();
    }
  });
}
