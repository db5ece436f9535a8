// The transport's ack discipline: PUBACK only after the ledger write is durable, without blocking the
// connection meanwhile; a failed write holds the acks and is retried; a reconnect before the write
// finishes leads to a redelivery that the idempotent record absorbs.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { BookingReserved } from '@albergue/events';
import { uniqueName, waitFor } from '@albergue/platform/testing';
import { MemoryDeliveryLedger } from '../ledger/memory-ledger';
import type { IncomingMessage, RecordOutcome } from '../ports/ledger';
import { bookingReserved, startAedes } from '../testing/index';
import { MqttPublisher } from './publisher';
import { toOutgoing } from './outgoing';
import { MqttSubscriber } from './subscriber';

/** A memory ledger whose `record` waits for `open()` and can be told to fail. */
class GatedLedger extends MemoryDeliveryLedger {
  private release: (() => void) | undefined;
  private readonly gate = new Promise<void>((resolve) => (this.release = resolve));
  failNext = 0;
  calls = 0;

  open(): void {
    this.release?.();
  }

  override async record(subscriber: string, messages: readonly IncomingMessage[]): Promise<RecordOutcome[]> {
    this.calls++;
    await this.gate;
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('redis unavailable');
    }
    return super.record(subscriber, messages);
  }
}

const waiting = async (l: MemoryDeliveryLedger, sub: string) => Object.values(await l.depth(sub)).reduce((a, b) => a + b, 0);

test('PUBACK waits for the ledger write, the connection keeps flowing, a failed write is retried before acking', async () => {
  const broker = await startAedes();
  const ledger = new GatedLedger();
  const sub = uniqueName('acks');
  const clientId = uniqueName('sub');
  let acks = 0;
  broker.broker.on('ack', (_packet, client) => {
    if (client?.id === clientId) acks++;
  });
  const subscriber = new MqttSubscriber({
    connection: { url: broker.url, clientId },
    service: 'test',
    subscriber: sub,
    topics: [{ topic: BookingReserved.topic }],
    ledger,
    deadLetters: ledger.deadLetters,
    batch: { maxMessages: 1, maxDelayMs: 1 },
  });
  const publisher = await MqttPublisher.connect({ url: broker.url, clientId: uniqueName('pub'), clean: true }, { service: 'test' });
  try {
    await subscriber.start();
    const events = [1, 2, 3].map((i) => bookingReserved(`bk-${i}`));
    await publisher.publishMany(events.map(toOutgoing));
    // All three reached the subscriber although the first write is still pending: nothing blocked.
    await waitFor(() => subscriber.stats.received === 3, { message: '3 messages received while the ledger write hangs' });
    assert.equal(acks, 0, 'no PUBACK before the ledger write completed');
    ledger.failNext = 1;
    ledger.open();
    await waitFor(() => acks === 3, { message: '3 PUBACKs after the retried write' });
    assert.ok(ledger.calls >= 4, `the failed write was retried (${ledger.calls} record calls)`);
    assert.equal(await waiting(ledger, sub), 3);
  } finally {
    await publisher.close();
    await subscriber.close();
    await broker.close();
  }
});

test('a reconnect while the write is pending: stale acks are dropped, the broker redelivers, the record stays one entry each', async () => {
  const broker = await startAedes();
  const ledger = new GatedLedger();
  const sub = uniqueName('redeliver');
  const clientId = uniqueName('sub');
  let acks = 0;
  broker.broker.on('ack', (_packet, client) => {
    if (client?.id === clientId) acks++;
  });
  const subscriber = new MqttSubscriber({
    connection: { url: broker.url, clientId, reconnectMs: 50 },
    service: 'test',
    subscriber: sub,
    topics: [{ topic: BookingReserved.topic }],
    ledger,
    deadLetters: ledger.deadLetters,
  });
  const publisher = await MqttPublisher.connect({ url: broker.url, clientId: uniqueName('pub'), clean: true, reconnectMs: 50 }, { service: 'test' });
  try {
    await subscriber.start();
    const events = [1, 2].map((i) => bookingReserved(`bk-${i}`));
    await publisher.publishMany(events.map(toOutgoing));
    await waitFor(() => subscriber.stats.received === 2, { message: 'received' });
    broker.disconnectAll();
    await waitFor(() => subscriber.stats.received >= 4, { message: 'redelivered after the persistent session reconnected' });
    ledger.open();
    await waitFor(() => acks === 2, { message: 'the redelivered copies acked' });
    assert.equal(await waiting(ledger, sub), 2);
    assert.equal(subscriber.stats.recorded, 2);
    assert.equal(subscriber.stats.duplicates, 2);
  } finally {
    await publisher.close();
    await subscriber.close();
    await broker.close();
  }
});
