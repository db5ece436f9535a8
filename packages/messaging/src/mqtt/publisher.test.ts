// MqttPublisher: one FIFO queue and window for every publish call, the PUBACK timeout, a dropped
// connection, CONNACK refusals. Against the in-process Aedes broker and a fake broker that never
// acknowledges. Also: events_published_total has one owner (get-or-create here, no label-dropping view).
import { strict as assert } from 'node:assert';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { BookingReserved } from '@albergue/events';
import { createMetricsRegistry } from '@albergue/platform';
import { freePort, uniqueName, waitFor } from '@albergue/platform/testing';
import mqtt from 'mqtt';
import { Counter, Gauge } from 'prom-client';
import { eventsPublishedCounter, messagingMetrics } from '../metrics.js';
import type { OutgoingMessage } from '../ports/publisher.js';
import { publishAll, PublishManyError } from '../ports/publisher.js';
import { bookingReserved, metricValue, startAedes } from '../testing/index.js';
import type { TestAedes } from '../testing/index.js';
import { toOutgoing } from './outgoing.js';
import { MqttPublisher, PubackTimeoutError } from './publisher.js';

let broker: TestAedes;

before(async () => {
  broker = await startAedes();
});

after(async () => {
  await broker.close();
});

function messages(n: number, aggregate: string): OutgoingMessage[] {
  return Array.from({ length: n }, () => toOutgoing(bookingReserved(aggregate)));
}

/** Event ids received on `albergue/#`, in arrival order. */
async function recorder(url: string): Promise<{ ids: string[]; close: () => Promise<void> }> {
  const ids: string[] = [];
  const client = await mqtt.connectAsync(url, { clientId: uniqueName('sub'), reconnectPeriod: 0 });
  client.on('message', (_topic, payload) => ids.push((JSON.parse(payload.toString()) as { event_id: string }).event_id));
  await client.subscribeAsync('albergue/#', { qos: 1 });
  return { ids, close: () => client.endAsync() };
}

/**
 * A broker that accepts the connection (CONNACK) and then reads everything and answers nothing, or
 * closes the connection when the first PUBLISH arrives (`dropOnPublish`).
 */
async function silentBroker(dropOnPublish: boolean): Promise<{ url: string; publishes: () => number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let publishes = 0;
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let connected = false;
    socket.on('data', (chunk) => {
      if (!connected) {
        connected = true;
        socket.write(Buffer.from([0x20, 0x02, 0x00, 0x00])); // CONNACK, accepted (MQTT 3.1.1)
        return;
      }
      // Count PUBLISH packets (several may share a chunk); short packets, so one length byte each.
      for (let i = 0; i + 1 < chunk.length; i += 2 + chunk[i + 1]!) {
        if ((chunk[i]! & 0xf0) === 0x30) publishes++;
      }
      if (dropOnPublish && publishes > 0) socket.destroy();
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `mqtt://127.0.0.1:${port}`,
    publishes: () => publishes,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

test('concurrent publish calls leave in call order, each through the shared window, on the MQTT form of the logical topic', async () => {
  const sub = await recorder(broker.url);
  const publisher = await MqttPublisher.connect(broker.url, { clientId: uniqueName('t'), window: 5 });
  try {
    const first = messages(30, uniqueName('f'));
    const second = messages(30, uniqueName('s'));
    assert.equal(first[0]!.topic, BookingReserved.topic, 'the port takes logical topics');
    const [r1, r2] = await Promise.all([publisher.publish(first), publisher.publish(second)]);
    assert.ok([...r1, ...r2].every((r) => r.ok));
    await waitFor(() => sub.ids.length >= 60, { message: 'all 60 messages on albergue/#' });
    assert.deepEqual(
      sub.ids,
      [...first, ...second].map((m) => m.eventId),
      'the second call queued behind the first',
    );
    assert.deepEqual(await publisher.publish([]), []);
  } finally {
    await publisher.close();
    await sub.close();
  }
});

test('a PUBACK that never comes fails the message after ackTimeoutMs, naming topic and event, and frees the window', async () => {
  const silent = await silentBroker(false);
  const publisher = await MqttPublisher.connect(silent.url, {
    clientId: uniqueName('t'),
    window: 2,
    ackTimeoutMs: 200,
    reconnectPeriod: 0,
  });
  try {
    const batch = Array.from({ length: 5 }, (_, i) => ({ topic: 'a.b', body: `m${i}`, eventId: `e${i}` }));
    const results = await publisher.publish(batch);
    assert.equal(results.length, 5);
    results.forEach((r, i) => {
      assert.equal(r.ok, false);
      const err = r.ok ? undefined : r.error;
      assert.ok(err instanceof PubackTimeoutError, String(err));
      assert.equal(err.topic, 'a.b');
      assert.equal(err.eventId, `e${i}`);
      assert.equal(err.timeoutMs, 200);
      assert.match(err.message, /no PUBACK from the MQTT broker within 200 ms for a\.b \(event_id e\d\)/);
    });
    assert.equal(silent.publishes(), 5, 'each waited for a free slot, then was sent');
    await assert.rejects(
      publishAll(publisher, batch.slice(0, 2)),
      (err: unknown) => err instanceof PublishManyError && err.failed === 2 && err.published === 0,
    );
  } finally {
    await publisher.close();
    await silent.close();
  }
});

test('a broker that sits on a PUBACK past the timeout: the message fails, later publishes still work', async () => {
  const held: (() => void)[] = [];
  let holding = true;
  broker.broker.authorizePublish = (_client, _packet, callback) => {
    if (holding) held.push(() => callback(null));
    else callback(null);
  };
  const publisher = await MqttPublisher.connect(broker.url, { clientId: uniqueName('pub'), clean: true, ackTimeoutMs: 150 });
  try {
    const message = toOutgoing(bookingReserved('bk-timeout'));
    const started = performance.now();
    const [late] = await publisher.publish([message]);
    assert.ok(late && !late.ok && late.error instanceof PubackTimeoutError && late.error.eventId === message.eventId, JSON.stringify(late));
    const waited = performance.now() - started;
    assert.ok(waited >= 140 && waited < 5_000, `failed after ${waited.toFixed(0)} ms`);
    holding = false;
    for (const release of held.splice(0)) release();
    await publishAll(publisher, [toOutgoing(bookingReserved('bk-after'))]);
  } finally {
    holding = false;
    for (const release of held.splice(0)) release();
    broker.broker.authorizePublish = (_client, _packet, callback) => callback(null);
    await publisher.close();
  }
});

test('a dropped connection fails the messages in flight; while disconnected messages fail at once', async () => {
  const dropping = await silentBroker(true);
  const publisher = await MqttPublisher.connect(dropping.url, {
    clientId: uniqueName('t'),
    window: 3,
    ackTimeoutMs: 60_000,
    reconnectPeriod: 0,
  });
  try {
    const results = await publisher.publish(messages(4, uniqueName('d')));
    assert.ok(results.every((r) => !r.ok));
    const reasons = results.map((r) => (r.ok ? '' : r.error.message));
    assert.ok(
      reasons.some((m) => /closed before PUBACK/.test(m)),
      reasons.join('; '),
    );
    assert.ok(
      reasons.every((m) => /closed before PUBACK|not connected/.test(m)),
      reasons.join('; '),
    );
    const later = await publisher.publish(messages(1, uniqueName('d')));
    assert.match(later[0]!.ok ? '' : later[0]!.error.message, /not connected/);
  } finally {
    await publisher.close();
    await dropping.close();
  }
});

test('after CONNACK refusals (a password wrong for a while) the publisher reconnects by itself, says why meanwhile, and publishes again', async () => {
  const { Aedes } = await import('aedes');
  const aedes = await Aedes.createBroker();
  let refuse = false;
  let refusals = 0;
  aedes.authenticate = (_client, _username, password, done) => {
    if (refuse || password?.toString() !== 'right') {
      refusals++;
      done(Object.assign(new Error('bad username or password'), { returnCode: 4 }), false);
      return;
    }
    done(null, true);
  };
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    aedes.handle(s);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const logged: string[] = [];
  const publisher = await MqttPublisher.connect(`mqtt://127.0.0.1:${port}`, {
    clientId: uniqueName('outbox'),
    username: 'booking',
    password: 'right',
    reconnectPeriod: 50,
    clean: true,
    onConnectionError: (_err, description) => logged.push(description),
  });
  try {
    assert.deepEqual(publisher.status(), { connected: true });
    refuse = true;
    for (const s of sockets) s.destroy();
    await waitFor(() => refusals >= 3, { message: 'three refused reconnects (mqtt.js keeps trying)' });
    const st = publisher.status();
    assert.equal(st.connected, false);
    assert.match(st.reason ?? '', /^connack refused: bad username or password/);
    assert.ok(logged.filter((l) => /^connack refused/.test(l)).length >= 2, 'each refusal is reported');
    const [failed] = await publisher.publish(messages(1, 'bk-refused'));
    assert.equal(failed?.ok, false, 'while refused a publish fails (the relay retries it), nothing is queued');
    refuse = false;
    await waitFor(() => publisher.status().connected, { message: 'reconnected by itself', timeoutMs: 5_000 });
    const results = await publisher.publish(messages(3, 'bk-back'));
    assert.deepEqual(
      results.map((r) => r.ok),
      [true, true, true],
    );
  } finally {
    await publisher.close();
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
  }
});

test('events_published_total has one owner: messaging get-or-creates it; a foreign registration under that name is a clear error', async () => {
  const registry = createMetricsRegistry('t');
  const metrics = messagingMetrics(registry);
  assert.equal(messagingMetrics(registry), metrics, 'one set of metrics per registry');
  const counter = eventsPublishedCounter(registry);
  assert.equal(counter, metrics.published, 'the relay and the consumers count into one counter');
  counter.inc({ topic: 'a' }, 2); // the outbox relay: by topic
  metrics.published.inc({ service: 'booking', topic: 'a' });
  assert.equal(await metricValue(registry, 'events_published_total', { topic: 'a' }), 3);
  assert.match(await registry.metrics(), /^events_published_total\{topic="a",service="t"\} 2$/m);

  // Another component registered it first with other labels: refused, not silently reshaped.
  const foreign = createMetricsRegistry('t');
  new Counter({ name: 'events_published_total', help: 'other', labelNames: ['topic'], registers: [foreign] });
  assert.throws(
    () => eventsPublishedCounter(foreign),
    /events_published_total is already registered on this registry with labels \[topic\], not \[service, topic\]/,
  );

  // A different kind of metric under that name is a clear error, not a silent mix-up.
  const third = createMetricsRegistry('t');
  new Gauge({ name: 'events_published_total', help: 'wrong', registers: [third] });
  assert.throws(
    () => eventsPublishedCounter(third),
    /events_published_total is already registered on this registry as a Gauge, not a Counter/,
  );
});
