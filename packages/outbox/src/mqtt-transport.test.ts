// MqttOutboxTransport: one FIFO queue and window for every publish call, the PUBACK timeout, a dropped
// connection. Against the in-process Aedes broker, and a fake broker that never acknowledges.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { freePort, uniqueName, waitFor } from '@albergue/platform/testing';
import { MqttOutboxTransport } from './mqtt-transport.js';
import { RecordingSubscriber, bookingEvent, startBroker } from './testing.js';
import type { OutboxMessage } from './transport.js';

let broker: Awaited<ReturnType<typeof startBroker>>;

before(async () => {
  broker = await startBroker();
});

after(async () => {
  await broker.close();
});

function messages(n: number, aggregate: string): OutboxMessage[] {
  return Array.from({ length: n }, () => {
    const e = bookingEvent(aggregate);
    return { topic: 'albergue/booking/v1/BookingReserved', body: JSON.stringify(e), eventId: e.event_id };
  });
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

test('concurrent publish calls leave in call order, each through the shared window', async () => {
  const sub = await RecordingSubscriber.connect(broker.url);
  const transport = await MqttOutboxTransport.connect(broker.url, { clientId: uniqueName('t'), window: 5 });
  try {
    const first = messages(30, uniqueName('f'));
    const second = messages(30, uniqueName('s'));
    const [r1, r2] = await Promise.all([transport.publish(first), transport.publish(second)]);
    assert.ok([...r1, ...r2].every((r) => r.ok));
    await waitFor(() => sub.received.length >= 60, { message: 'all 60 messages' });
    assert.deepEqual(sub.ids(), [...first, ...second].map((m) => m.eventId), 'the second call queued behind the first');
    assert.deepEqual(await transport.publish([]), []);
  } finally {
    await transport.close();
    await sub.close();
  }
});

test('a PUBACK that never comes fails the message after ackTimeoutMs and frees the window', async () => {
  const silent = await silentBroker(false);
  const transport = await MqttOutboxTransport.connect(silent.url, { clientId: uniqueName('t'), window: 2, ackTimeoutMs: 200, reconnectPeriod: 0 });
  try {
    const results = await transport.publish(Array.from({ length: 5 }, (_, i) => ({ topic: 'a/b', body: `m${i}`, eventId: `e${i}` })));
    assert.equal(results.length, 5);
    for (const r of results) {
      assert.equal(r.ok, false);
      assert.match(r.ok ? '' : r.error.message, /no PUBACK within 200 ms/);
    }
    assert.equal(silent.publishes(), 5, 'each waited for a free slot, then was sent');
  } finally {
    await transport.close();
    await silent.close();
  }
});

test('a dropped connection fails the messages in flight; while disconnected messages fail at once', async () => {
  const dropping = await silentBroker(true);
  const transport = await MqttOutboxTransport.connect(dropping.url, { clientId: uniqueName('t'), window: 3, ackTimeoutMs: 60_000, reconnectPeriod: 0 });
  try {
    const results = await transport.publish(messages(4, uniqueName('d')));
    assert.ok(results.every((r) => !r.ok));
    const reasons = results.map((r) => (r.ok ? '' : r.error.message));
    assert.ok(reasons.some((m) => /closed before PUBACK/.test(m)), reasons.join('; '));
    assert.ok(reasons.every((m) => /closed before PUBACK|not connected/.test(m)), reasons.join('; '));
    const later = await transport.publish(messages(1, uniqueName('d')));
    assert.match(later[0]!.ok ? '' : later[0]!.error.message, /not connected/);
  } finally {
    await transport.close();
    await dropping.close();
  }
});

test('after CONNACK refusals (a password wrong for a while) the transport reconnects by itself, says why meanwhile, and publishes again', async () => {
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
  const transport = await MqttOutboxTransport.connect(`mqtt://127.0.0.1:${port}`, {
    clientId: uniqueName('outbox'), username: 'booking', password: 'right', reconnectPeriod: 50, clean: true,
    onConnectionError: (_err, description) => logged.push(description),
  });
  try {
    assert.deepEqual(transport.status(), { connected: true });
    refuse = true;
    for (const s of sockets) s.destroy();
    await waitFor(() => refusals >= 3, { message: 'three refused reconnects (mqtt.js keeps trying)' });
    const st = transport.status();
    assert.equal(st.connected, false);
    assert.match(st.reason ?? '', /^connack refused: bad username or password/);
    assert.ok(logged.filter((l) => /^connack refused/.test(l)).length >= 2, 'each refusal is reported');
    const [failed] = await transport.publish(messages(1, 'bk-refused'));
    assert.equal(failed?.ok, false, 'while refused a publish fails (the relay retries it), nothing is queued');
    refuse = false;
    await waitFor(() => transport.status().connected, { message: 'reconnected by itself', timeoutMs: 5_000 });
    const results = await transport.publish(messages(3, 'bk-back'));
    assert.deepEqual(results.map((r) => r.ok), [true, true, true]);
  } finally {
    await transport.close();
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
  }
});
