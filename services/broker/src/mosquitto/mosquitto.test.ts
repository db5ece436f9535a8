// The generated Mosquitto configuration on a real Mosquitto (/usr/sbin/mosquitto) on a free port.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { freePort, waitFor } from '@albergue/platform/testing';
import { grantsFromDeclarations } from '../application/acl-from-declarations.js';
import { TEST_DECLARATIONS } from '../testing/declarations.js';
import { asService, closeMqtt, connectMqtt, devUsers } from '../testing/harness.js';
import { BOOKING_RESERVED_MQTT } from '../testing/fixtures.js';
import { emqxAclFile, mosquittoPasswordLine, writeMosquittoConfig } from './generate.js';
import { DEFAULT_MAX_PACKET_SIZE } from '../config/limits.js';

let dir: string;
let url: string;
let mosquitto: ChildProcess;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'albergue-mosquitto-'));
  const port = await freePort();
  const files = await writeMosquittoConfig({
    outDir: dir,
    grants: grantsFromDeclarations(TEST_DECLARATIONS),
    users: devUsers(),
    port,
    user: 'root',
  });
  mosquitto = spawn('mosquitto', ['-c', files.conf], { stdio: 'ignore' });
  url = `mqtt://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      const c = await connectMqtt(url, asService('observer')).catch(() => undefined);
      await closeMqtt(c);
      return c !== undefined;
    },
    { timeoutMs: 10_000, message: 'mosquitto accepting connections' },
  );
});

after(async () => {
  await new Promise<void>((resolve) => {
    if (mosquitto.exitCode !== null) return resolve();
    mosquitto.once('exit', () => resolve());
    mosquitto.kill('SIGTERM');
  });
  await rm(dir, { recursive: true, force: true });
});

test('password lines use the $7$ PBKDF2-SHA512 format that mosquitto_passwd writes', () => {
  const salt = Buffer.from('JOLhUtHZEAJueX0r', 'base64');
  assert.equal(
    mosquittoPasswordLine('alice', 'secret', salt),
    'alice:$7$101$JOLhUtHZEAJueX0r$ZlKtVdsxF7jamy6EtEgi3S6kOYmnu+oP2eMkfCx5gD3EFk5FP0cRAwQ2lVJkQnCgrsWnE/15awo/3Dt0Iw+qfQ==',
  );
});

test('the configuration sets the limits that never drop QoS 1 messages', async () => {
  const conf = await readFile(join(dir, 'mosquitto.conf'), 'utf8');
  for (const line of ['max_queued_messages 0', 'max_inflight_messages 0', 'allow_anonymous false', 'persistence true'])
    assert.match(conf, new RegExp(`^${line}$`, 'm'));
});

test('Mosquitto refuses bad credentials and enforces the derived ACL', async () => {
  await assert.rejects(connectMqtt(url, { username: 'booking', password: 'wrong' }), /not authorized|bad user/i);
  await assert.rejects(connectMqtt(url, {}), /not authorized|bad user/i);
  let observer: MqttClient | undefined;
  let booking: MqttClient | undefined;
  let payment: MqttClient | undefined;
  try {
    observer = await connectMqtt(url, asService('observer'));
    const seen: string[] = [];
    observer.on('message', (topic) => seen.push(topic));
    await observer.subscribeAsync('albergue/#', { qos: 1 });

    // Mosquitto 2.0.11 grants a subscription outside the ACL but never delivers on it (read check).
    payment = await connectMqtt(url, asService('payment'));
    const paymentSeen: string[] = [];
    payment.on('message', (topic) => paymentSeen.push(topic));
    await payment
      .subscribeAsync({ 'albergue/booking/v1/BookingConfirmed': { qos: 1 }, [BOOKING_RESERVED_MQTT]: { qos: 1 } })
      .catch(() => undefined);

    // Mosquitto denies it and answers with a v5-style PUBACK (rc 135) that a 3.1.1 client takes as a
    // broken connection: the forger ends up acked or disconnected, never delivered.
    const forger = await connectMqtt(url, asService('booking'));
    let settled = false;
    forger.once('close', () => (settled = true));
    forger.publish('albergue/payment/v1/PaymentConfirmed', 'forged', { qos: 1 }, () => (settled = true));
    await waitFor(() => settled, { timeoutMs: 5000, message: 'forged publish settled' });
    await closeMqtt(forger);
    booking = await connectMqtt(url, asService('booking'));
    await booking.publishAsync('albergue/booking/v1/BookingConfirmed', 'marker', { qos: 1 });
    await booking.publishAsync(BOOKING_RESERVED_MQTT, 'for payment', { qos: 1 });
    await waitFor(() => seen.length === 2 && paymentSeen.length > 0, { timeoutMs: 5000, message: 'markers' });
    assert.deepEqual(seen, ['albergue/booking/v1/BookingConfirmed', BOOKING_RESERVED_MQTT]);
    assert.deepEqual(paymentSeen, [BOOKING_RESERVED_MQTT]);
  } finally {
    await closeMqtt(observer, booking, payment);
  }
});

test('no QoS 1 message is dropped: 3,000 queued for an offline persistent subscriber all arrive', async () => {
  const N = 3000; // three times Mosquitto's stock max_queued_messages (1000)
  const session = { clientId: 'albergue-payment-mosquitto-queue', clean: false };
  let sub: MqttClient | undefined;
  let booking: MqttClient | undefined;
  try {
    sub = await connectMqtt(url, asService('payment', session));
    await sub.subscribeAsync(BOOKING_RESERVED_MQTT, { qos: 1 });
    await closeMqtt(sub);

    booking = await connectMqtt(url, asService('booking'));
    const window = 200;
    for (let i = 0; i < N; i += window) {
      await Promise.all(
        Array.from({ length: Math.min(window, N - i) }, (_, k) => booking!.publishAsync(BOOKING_RESERVED_MQTT, String(i + k), { qos: 1 })),
      );
    }

    const got = new Set<string>();
    sub = await connectMqtt(url, asService('payment', session), (_t, payload) => got.add(payload.toString()));
    await waitFor(() => got.size === N, { timeoutMs: 20_000, message: `all ${N} messages (got ${got.size})` });
    assert.equal(got.size, N);
  } finally {
    await closeMqtt(sub, booking);
  }
});

test('the generated configuration bounds packets and client ids', async () => {
  const conf = await readFile(join(dir, 'mosquitto.conf'), 'utf8');
  assert.match(conf, new RegExp(`^max_packet_size ${DEFAULT_MAX_PACKET_SIZE}$`, 'm'));
  assert.match(conf, /^clientid_prefixes albergue-$/m);
});

test('Mosquitto disconnects a publish over max_packet_size and never delivers it; one under it passes', async () => {
  let observer: MqttClient | undefined;
  let big: MqttClient | undefined;
  let small: MqttClient | undefined;
  try {
    observer = await connectMqtt(url, asService('observer'));
    const seen: string[] = [];
    observer.on('message', (_t, payload) => seen.push(payload.subarray(0, 8).toString()));
    await observer.subscribeAsync('albergue/#', { qos: 1 });
    big = await connectMqtt(url, asService('booking'));
    const outcome = await new Promise<string>((resolve) => {
      big!.once('close', () => resolve('closed'));
      big!.publish(
        BOOKING_RESERVED_MQTT,
        Buffer.concat([Buffer.from('too-big!'), Buffer.alloc(DEFAULT_MAX_PACKET_SIZE)]),
        { qos: 1 },
        (err) => {
          if (!err) resolve('acked');
        },
      );
    });
    assert.equal(outcome, 'closed');
    small = await connectMqtt(url, asService('booking'));
    await small.publishAsync(BOOKING_RESERVED_MQTT, Buffer.concat([Buffer.from('fits-ok!'), Buffer.alloc(200 * 1024)]), { qos: 1 });
    await waitFor(() => seen.includes('fits-ok!'), { timeoutMs: 5000, message: 'the publish under the limit' });
    assert.deepEqual(seen, ['fits-ok!']);
  } finally {
    await closeMqtt(observer, big, small);
  }
});

test('Mosquitto refuses client ids outside albergue- (what it can express of the client-id rule)', async () => {
  await assert.rejects(connectMqtt(url, asService('observer', { clientId: 'mqttjs_12345' })), /identifier rejected|not authori[sz]ed/i);
  await assert.rejects(connectMqtt(url, asService('payment', { clientId: 'payment-0' })), /identifier rejected|not authori[sz]ed/i);
  const ok = await connectMqtt(url, asService('payment', { clientId: 'albergue-payment-9' }));
  await closeMqtt(ok);
});

test('the same grants for EMQX: one allow rule per account and action, everything else denied', () => {
  const grants = grantsFromDeclarations(TEST_DECLARATIONS);
  const acl = emqxAclFile([...grants, { username: 'odd"name\\', publish: ['albergue/x/v1/Y'], subscribe: [] }]);
  const rules = acl.split('\n').filter((l) => l !== '' && !l.startsWith('%%'));
  assert.equal(rules.at(-1), '{deny, all}.');
  for (const r of rules) assert.match(r, /^\{(allow, \{username, "(?:[^"\\]|\\.)*"\}, (publish|subscribe), \["[^\]]*"\]|deny, all)\}\.$/);
  for (const g of grants) {
    for (const [action, topics] of [
      ['publish', g.publish],
      ['subscribe', g.subscribe],
    ] as const) {
      if (topics.length === 0) continue;
      const rule = rules.find((r) => r.startsWith(`{allow, {username, "${g.username}"}, ${action},`));
      assert.ok(rule, `${g.username} ${action}`);
      for (const t of topics) assert.ok(rule.includes(`"${t}"`), `${g.username} ${action} ${t}`);
    }
  }
  assert.ok(acl.includes('{username, "odd\\"name\\\\"}'), 'quotes and backslashes escaped as Erlang strings');
});

test('a shared subscription is authorized on its topic by the generated ACL (MQTT 5): delivered where it may read, never elsewhere', async () => {
  const grants = grantsFromDeclarations(TEST_DECLARATIONS);
  const exact = (t: string) => !/[+#]/.test(t);
  // A subscriber, a topic it reads and one it does not, and the accounts that publish them.
  const sub = grants.find((g) => g.username !== 'observer' && g.subscribe.some(exact))!;
  const allowed = sub.subscribe.find(exact)!;
  const writerOf = (t: string) => grants.find((g) => g.publish.includes(t))!;
  const other = grants.flatMap((g) => g.publish).find((t) => exact(t) && !sub.subscribe.includes(t) && !sub.publish.includes(t))!;
  assert.ok(writerOf(allowed) && other, 'the test declarations have such topics');
  const member = await connectMqtt(url, asService(sub.username, { protocolVersion: 5, clientId: `albergue-${sub.username}-share-test` }));
  const observer = await connectMqtt(url, asService('observer'));
  const [p1, p2] = [
    await connectMqtt(url, asService(writerOf(allowed).username)),
    await connectMqtt(url, asService(writerOf(other).username)),
  ];
  try {
    const got: string[] = [];
    member.on('message', (topic) => got.push(topic));
    const observed: string[] = [];
    observer.on('message', (topic) => observed.push(topic));
    await observer.subscribeAsync(other, { qos: 1 });
    const granted = await member.subscribeAsync([`$share/${sub.username}/${allowed}`, `$share/${sub.username}/${other}`], { qos: 1 });
    assert.equal(granted[0]!.qos, 1);
    // Mosquitto 2.0.11 grants a filter outside the ACL, as for plain subscriptions, and never delivers on it.
    await p2.publishAsync(other, 'not for the member', { qos: 1 });
    await waitFor(() => observed.length === 1, { timeoutMs: 5000, message: 'the other topic routed' });
    await p1.publishAsync(allowed, 'for the member', { qos: 1 });
    await waitFor(() => got.includes(allowed), { timeoutMs: 5000, message: 'the shared subscription to deliver' });
    assert.deepEqual(got, [allowed]);
  } finally {
    await closeMqtt(member, observer, p1, p2);
  }
});
