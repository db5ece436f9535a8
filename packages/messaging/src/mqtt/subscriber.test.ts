// The transport's ack discipline: PUBACK only after the ledger write is durable, without blocking the
// connection meanwhile; a failed write holds the acks and is retried; a reconnect before the write
// finishes leads to a redelivery that the idempotent record absorbs.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { BookingReserved } from '@albergue/events';
import { uniqueName, waitFor } from '@albergue/platform/testing';
import { MemoryDeliveryLedger } from '../ledger/memory-ledger.js';
import type { IncomingMessage, RecordOutcome } from '../ports/ledger.js';
import { bookingReserved, startAedes } from '../testing/index.js';
import { MqttPublisher } from './publisher.js';
import { publishAll } from '../ports/publisher.js';
import { toOutgoing } from './outgoing.js';
import { MqttSubscriber } from './subscriber.js';

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
  const publisher = await MqttPublisher.connect(broker.url, { clientId: uniqueName('pub'), clean: true });
  try {
    await subscriber.start();
    const events = [1, 2, 3].map((i) => bookingReserved(`bk-${i}`));
    await publishAll(publisher, events.map(toOutgoing));
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
  const publisher = await MqttPublisher.connect(broker.url, { clientId: uniqueName('pub'), clean: true, reconnectPeriod: 50 });
  try {
    await subscriber.start();
    const events = [1, 2].map((i) => bookingReserved(`bk-${i}`));
    await publishAll(publisher, events.map(toOutgoing));
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

test('backpressure: a held ledger stops reads at the high-water mark, resumes below the low-water mark, nothing is lost', async () => {
  const broker = await startAedes();
  const sub = uniqueName('backpressure');
  const clientId = uniqueName('sub');
  let acks = 0;
  broker.broker.on('ack', (_packet, client) => {
    if (client?.id === clientId) acks++;
  });
  let maxOutstanding = 0;
  const watched: { subscriber?: MqttSubscriber } = {};
  const ledger = new (class extends GatedLedger {
    override async record(s: string, messages: readonly IncomingMessage[]): Promise<RecordOutcome[]> {
      maxOutstanding = Math.max(maxOutstanding, watched.subscriber?.outstanding.messages ?? 0);
      return super.record(s, messages);
    }
  })();
  const highWater = 100;
  const subscriber = new MqttSubscriber({
    connection: { url: broker.url, clientId },
    service: 'test',
    subscriber: sub,
    topics: [{ topic: BookingReserved.topic }],
    ledger,
    deadLetters: ledger.deadLetters,
    batch: { maxMessages: 20, maxDelayMs: 1, maxInFlight: 2 },
    backpressure: { highWater, lowWater: 40 },
  });
  watched.subscriber = subscriber;
  const publisher = await MqttPublisher.connect(broker.url, { clientId: uniqueName('pub'), clean: true });
  const total = 2_000;
  try {
    await subscriber.start();
    // The broker accepts every message (its PUBACKs to the publisher do not wait for the subscriber).
    await publishAll(
      publisher,
      Array.from({ length: total }, (_, i) => toOutgoing(bookingReserved(`bk-${i}`))),
    );
    await waitFor(() => subscriber.outstanding.paused, { message: 'reads paused at the high-water mark' });
    assert.equal(subscriber.stats.received, highWater, 'nothing read past the high-water mark while the ledger is held');
    assert.equal(subscriber.outstanding.messages, highWater);
    assert.equal(acks, 0);
    assert.equal(subscriber.stats.pauses, 1);
    ledger.open();
    await waitFor(() => acks === total, { timeoutMs: 30_000, message: `all ${total} acked once released` });
    assert.equal(subscriber.stats.recorded, total, 'every message recorded once');
    assert.equal(subscriber.stats.duplicates, 0);
    assert.equal(await waiting(ledger, sub), total);
    assert.ok(maxOutstanding <= highWater, `outstanding stayed within the high-water mark (max ${maxOutstanding})`);
    assert.deepEqual(subscriber.outstanding, { messages: 0, bytes: 0, paused: false });
  } finally {
    await publisher.close();
    await subscriber.close();
    await broker.close();
  }
});

test('batches written concurrently: PUBACKs still leave in arrival order when a later batch is durable first', async () => {
  const broker = await startAedes();
  const sub = uniqueName('order');
  const clientId = uniqueName('sub');
  const acked: string[] = [];
  broker.broker.on('ack', (packet, client) => {
    if (client?.id !== clientId || !packet || !('payload' in packet)) return;
    acked.push((JSON.parse(String(packet.payload)) as { event_id: string }).event_id);
  });
  /** While `held`, each record call waits for its own release. */
  const ledger = new (class extends MemoryDeliveryLedger {
    readonly gates: (() => void)[] = [];
    held = true;
    resolved = 0;
    override async record(s: string, messages: readonly IncomingMessage[]): Promise<RecordOutcome[]> {
      if (this.held) await new Promise<void>((resolve) => this.gates.push(resolve));
      const out = await super.record(s, messages);
      this.resolved++;
      return out;
    }
  })();
  const subscriber = new MqttSubscriber({
    connection: { url: broker.url, clientId },
    service: 'test',
    subscriber: sub,
    topics: [{ topic: BookingReserved.topic }],
    ledger,
    deadLetters: ledger.deadLetters,
    batch: { maxMessages: 2, maxDelayMs: 1, maxInFlight: 2 },
  });
  const publisher = await MqttPublisher.connect(broker.url, { clientId: uniqueName('pub'), clean: true, window: 1 });
  try {
    await subscriber.start();
    const events = [1, 2, 3, 4].map((i) => bookingReserved(`bk-${i}`));
    await publishAll(publisher, events.map(toOutgoing));
    await waitFor(() => ledger.gates.length === 2, { message: 'two batches written at once' });
    ledger.gates[1]!();
    await waitFor(() => ledger.resolved === 1, { message: 'the second batch is durable first' });
    assert.equal(acked.length, 0, 'no PUBACK before the earlier batch is durable');
    // The first batch, then whatever batches started meanwhile.
    ledger.held = false;
    for (const release of ledger.gates) release();
    await waitFor(() => acked.length === 4, { message: '4 PUBACKs' });
    assert.deepEqual(
      acked,
      events.map((e) => e.event_id),
      'PUBACKs in arrival order',
    );
  } finally {
    ledger.held = false;
    for (const release of ledger.gates) release();
    await publisher.close();
    await subscriber.close();
    await broker.close();
  }
});
