// A clean session's inbound QoS 2 state ends with it ([MQTT-3.1.2-6]): aedes 1.2 calls the
// persistence's cleanIncoming, which our wrapper adds to aedes-persistence-redis 11. A raw client
// publishes QoS 2 and vanishes without PUBREL, under a client id with glob characters, beside a
// client whose id it would match as a pattern: only its own packets go, on the broker's real path.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tcpConnect } from 'node:net';
import type { Socket } from 'node:net';
import { Redis } from 'ioredis';
import { waitFor } from '@albergue/platform/testing';
import type { RunningBroker } from '../../start.js';
import { devPassword } from '../../config/credentials.js';
import { startRedisServer, startTestBroker } from '../../testing/harness.js';
import { BOOKING_RESERVED_MQTT } from '../../testing/fixtures.js';
import { incomingIndexKey } from './persistence.js';

let redis: Awaited<ReturnType<typeof startRedisServer>>;
let broker: RunningBroker;
let admin: Redis;
before(async () => {
  redis = await startRedisServer();
  broker = await startTestBroker({ redisUrl: redis.url, wsPort: null });
  admin = new Redis(redis.url);
});
after(async () => {
  admin.disconnect();
  await broker.close();
  await redis.stop();
});

const str = (s: string) => {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
};
function packet(first: number, body: Buffer): Buffer {
  const len: number[] = [];
  let n = body.length;
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    len.push(byte);
  } while (n > 0);
  return Buffer.concat([Buffer.from([first, ...len]), body]);
}

/** A clean-session MQTT 3.1.1 client that publishes QoS 2 (ids 1..count) and never releases them; resolves once every PUBREC came. */
async function publishQos2WithoutRelease(clientId: string, count: number): Promise<Socket> {
  const socket = tcpConnect({ host: '127.0.0.1', port: broker.mqttPort });
  let received = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => {
    received = Buffer.concat([received, d]);
  });
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  // CONNECT: protocol MQTT level 4, flags username + password + clean session, keep-alive 60 s.
  socket.write(
    packet(0x10, Buffer.concat([str('MQTT'), Buffer.from([4, 0xc2, 0, 60]), str(clientId), str('booking'), str(devPassword('booking'))])),
  );
  await waitFor(() => received.length >= 4, { timeoutMs: 5_000, message: 'CONNACK' });
  assert.deepEqual([...received.subarray(0, 4)], [0x20, 2, 0, 0], 'CONNACK accepted');
  for (let id = 1; id <= count; id++)
    socket.write(packet(0x34, Buffer.concat([str(BOOKING_RESERVED_MQTT), Buffer.from([0, id]), Buffer.from(`{"qos2":${id}}`)])));
  // Each PUBREC is 4 bytes (0x50 2 id): the broker has stored every inbound packet.
  await waitFor(() => received.length >= 4 + 4 * count, { timeoutMs: 5_000, message: 'PUBRECs' });
  return socket;
}

test('a clean session that vanishes before PUBREL leaves no inbound QoS 2 packet in Redis; another client keeps its own', async () => {
  const glob = 'albergue-booking-*';
  const other = 'albergue-booking-x';
  const keep = await publishQos2WithoutRelease(other, 2);
  const gone = await publishQos2WithoutRelease(glob, 3);
  try {
    assert.equal(await admin.scard(incomingIndexKey(glob)), 3);
    // KEYS takes a pattern: the `*` of the client id is escaped to mean itself.
    assert.equal((await admin.keys('incoming:albergue-booking-\\*:*')).length, 3);
    gone.destroy();
    await waitFor(
      async () => (await admin.exists(incomingIndexKey(glob))) === 0 && (await admin.keys('incoming:albergue-booking-\\*:*')).length === 0,
      { timeoutMs: 5_000, message: "the vanished session's QoS 2 state to be cleaned" },
    );
    assert.equal(await admin.scard(incomingIndexKey(other)), 2, 'the other client keeps its packets');
    assert.equal((await admin.keys(`incoming:${other}:*`)).length, 2);
  } finally {
    gone.destroy();
    keep.destroy();
  }
  await waitFor(async () => (await admin.keys('incoming*')).length === 0, {
    timeoutMs: 5_000,
    message: "every clean session's QoS 2 state to be cleaned",
  });
});
