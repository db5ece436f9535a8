// The MQTT packet size limit on Aedes (issue 9.4): over it the client is disconnected, nothing is
// published or acknowledged, and the refusal is counted.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tcpConnect } from 'node:net';
import type { MqttClient } from 'mqtt';
import { waitFor } from '@albergue/platform/testing';
import type { RunningBroker } from '../../start.js';
import { DEFAULT_MAX_PACKET_SIZE } from '../../start.js';
import { asService, closeMqtt, connectMqtt, startTestBroker } from '../../testing/harness.js';
import { BOOKING_RESERVED_MQTT } from '../../testing/fixtures.js';

let broker: RunningBroker;
before(async () => {
  broker = await startTestBroker({ wsPort: 0 });
});
after(async () => {
  await broker.close();
});

const packetRefusals = async (): Promise<number> => {
  const text = await (await fetch(`${broker.httpUrl}/metrics`)).text();
  const m = /^mqtt_refusals_total\{kind="packet_size"[^}]*\} (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
};

/** Publishes `size` bytes of payload; resolves 'acked' on PUBACK or 'closed' when the broker drops the connection. */
function publishOutcome(client: MqttClient, size: number, marker: string): Promise<'acked' | 'closed'> {
  return new Promise((resolve) => {
    client.once('close', () => resolve('closed'));
    client.publish(
      BOOKING_RESERVED_MQTT,
      Buffer.concat([Buffer.from(marker), Buffer.alloc(size - marker.length, 0x78)]),
      { qos: 1 },
      (err) => {
        if (!err) resolve('acked');
      },
    );
  });
}

test('the default limit is the envelope limit plus header room', () => {
  assert.equal(DEFAULT_MAX_PACKET_SIZE, 256 * 1024 + 1024);
});

test('a publish over the limit disconnects its client, is never delivered and is counted; one under it passes', async () => {
  let observer: MqttClient | undefined;
  let big: MqttClient | undefined;
  let small: MqttClient | undefined;
  try {
    observer = await connectMqtt(broker.mqttUrl, asService('observer'));
    const seen: string[] = [];
    observer.on('message', (_t, payload) => seen.push(payload.subarray(0, 11).toString()));
    await observer.subscribeAsync('albergue/#', { qos: 1 });
    const before = await packetRefusals();

    big = await connectMqtt(broker.mqttUrl, asService('booking'));
    assert.equal(await publishOutcome(big, DEFAULT_MAX_PACKET_SIZE, 'too-big-001'), 'closed');
    big = await connectMqtt(broker.mqttUrl, asService('booking'));
    const started = Date.now();
    assert.equal(await publishOutcome(big, 20 * 1024 * 1024, 'too-big-002'), 'closed');
    const refusedInMs = Date.now() - started;

    small = await connectMqtt(broker.mqttUrl, asService('booking'));
    assert.equal(await publishOutcome(small, 200 * 1024, 'fits-000001'), 'acked');
    await waitFor(() => seen.includes('fits-000001'), {
      timeoutMs: 5000,
      message: `the publish under the limit (seen ${JSON.stringify(seen)}, observer connected ${observer.connected})`,
    });
    assert.deepEqual(seen, ['fits-000001']);
    assert.equal(await packetRefusals(), before + 2);
    assert.ok(refusedInMs < 5000, `20 MB refused in ${refusedInMs} ms`);
  } finally {
    await closeMqtt(observer, big, small);
  }
});

test('an oversized CONNECT (raw bytes) is refused before it is buffered', async () => {
  const before = await packetRefusals();
  // CONNECT fixed header announcing 100 MB; the broker must close without waiting for the bytes.
  const socket = tcpConnect({ host: '127.0.0.1', port: broker.mqttPort });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined);
  socket.write(Buffer.from([0x10, 0x80, 0x80, 0x80, 0x30]));
  await closed;
  assert.equal(await packetRefusals(), before + 1);
});

test('the limit holds over WebSocket too', async () => {
  const before = await packetRefusals();
  const ws = await connectMqtt(`ws://127.0.0.1:${broker.wsPort}`, asService('booking'));
  try {
    assert.equal(await publishOutcome(ws, DEFAULT_MAX_PACKET_SIZE, 'too-big-ws1'), 'closed');
  } finally {
    await closeMqtt(ws);
  }
  assert.equal(await packetRefusals(), before + 1);
});
