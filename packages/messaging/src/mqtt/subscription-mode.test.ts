// Subscription mode and protocol negotiation on the real brokers: `auto` speaks MQTT 5 to Mosquitto
// and falls back to 3.1.1 with Aedes; shared mode splits a group's messages between its instances
// (exact topics and wildcards) and is refused, naming MQTT_SUBSCRIPTION_MODE, where it cannot work;
// v5 publishes carry the correlation and causation ids as user properties.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import mqtt from 'mqtt';
import type { IPublishPacket } from 'mqtt';
import { BookingReserved, PaymentConfirmed, newEventId } from '@albergue/events';
import { uniqueName, waitFor } from '@albergue/platform/testing';
import { MemoryDeliveryLedger, MemoryLedgerStore } from '../ledger/memory-ledger.js';
import { publishAll } from '../ports/publisher.js';
import { bookingReserved, startAedes, startMosquitto } from '../testing/index.js';
import type { TestBroker } from '../testing/index.js';
import { connectMqtt, endMqtt, negotiatedProtocol } from './connect.js';
import type { MqttProtocolSetting } from './connect.js';
import { toOutgoing } from './outgoing.js';
import { MqttPublisher } from './publisher.js';
import { MqttSubscriber } from './subscriber.js';
import type { MqttSubscriberOptions } from './subscriber.js';
import type { SubscriptionMode } from './subscription-mode.js';
import { SubscriptionModeError } from './subscription-mode.js';

function subscriberOn(
  broker: TestBroker,
  store: MemoryLedgerStore,
  group: string,
  mode: SubscriptionMode,
  protocolVersion: MqttProtocolSetting,
  extra: Partial<MqttSubscriberOptions> = {},
  clientId = uniqueName('sub'),
): MqttSubscriber {
  const ledger = new MemoryDeliveryLedger(store);
  return new MqttSubscriber({
    connection: { url: broker.url, clientId, protocolVersion },
    service: 'test',
    subscriber: group,
    topics: [{ topic: BookingReserved.topic }],
    mode,
    ledger,
    deadLetters: ledger.deadLetters,
    ...extra,
  });
}

test('auto: MQTT 5 with Mosquitto, 3.1.1 with Aedes (which refuses 5); explicit versions are kept', async () => {
  const [aedes, mosquitto] = await Promise.all([startAedes(), startMosquitto()]);
  try {
    for (const [broker, setting, expected] of [
      [mosquitto, 'auto', 5],
      [aedes, 'auto', 4],
      [mosquitto, 4, 4],
      [aedes, 4, 4],
    ] as const) {
      const client = await connectMqtt({ url: broker.url, clientId: uniqueName('neg'), clean: true, protocolVersion: setting });
      assert.equal(negotiatedProtocol(client), expected, `${broker.name} ${setting}`);
      await endMqtt(client);
      const pub = await MqttPublisher.connect(broker.url, { clientId: uniqueName('negpub'), clean: true, protocolVersion: setting });
      assert.equal(pub.client.options.protocolVersion, expected, `publisher ${broker.name} ${setting}`);
      await pub.close();
    }
    await assert.rejects(
      connectMqtt({ url: aedes.url, clientId: uniqueName('neg'), clean: true, protocolVersion: 5 }),
      /unacceptable protocol version/i,
      'an explicit 5 does not fall back',
    );
  } finally {
    await Promise.all([aedes.close(), mosquitto.close()]);
  }
});

test('shared mode is refused, naming MQTT_SUBSCRIPTION_MODE, on Aedes (3.1.1 only) and on Mosquitto over 3.1.1', async () => {
  const [aedes, mosquitto] = await Promise.all([startAedes(), startMosquitto()]);
  try {
    for (const [broker, version] of [
      [aedes, 'auto'],
      [mosquitto, 4],
    ] as const) {
      const sub = subscriberOn(broker, new MemoryLedgerStore(), uniqueName('grp'), 'shared', version);
      await assert.rejects(
        sub.start(),
        (e: Error) => e instanceof SubscriptionModeError && /MQTT_SUBSCRIPTION_MODE=shared/.test(e.message) && /3\.1\.1/.test(e.message),
        `${broker.name} with ${version}`,
      );
      await sub.close();
    }
    // Aedes has no shared subscriptions: nothing was subscribed under a literal `$share/…` name.
    await waitFor(() => aedes.broker.connectedClients === 0, { message: 'the refused subscriber disconnected from Aedes' });
    const bad = subscriberOn(mosquitto, new MemoryLedgerStore(), 'has/slash', 'shared', 'auto');
    await assert.rejects(bad.start(), /cannot be a shared subscription group/);
  } finally {
    await Promise.all([aedes.close(), mosquitto.close()]);
  }
});

test('shared mode on Mosquitto: each message reaches one instance of the group (exact topic and wildcard), fanout reaches all', async () => {
  const mosquitto = await startMosquitto();
  const publisher = await MqttPublisher.connect(mosquitto.url, { clientId: uniqueName('pub'), clean: true, protocolVersion: 'auto' });
  const subs: MqttSubscriber[] = [];
  try {
    const exactGroup = uniqueName('shx');
    const wildGroup = uniqueName('shw');
    const fanGroup = uniqueName('fan');
    const exactStore = new MemoryLedgerStore();
    const wildStore = new MemoryLedgerStore();
    const fanStore = new MemoryLedgerStore();
    const exact = [0, 1].map(() => subscriberOn(mosquitto, exactStore, exactGroup, 'shared', 'auto'));
    const wild = [0, 1].map(() =>
      subscriberOn(mosquitto, wildStore, wildGroup, 'shared', 'auto', {
        topics: [
          { topic: BookingReserved.topic, viaFilter: true },
          { topic: PaymentConfirmed.topic, viaFilter: true },
        ],
        filters: ['albergue/#'],
      }),
    );
    const fan = [0, 1].map(() => subscriberOn(mosquitto, fanStore, fanGroup, 'fanout', 'auto'));
    subs.push(...exact, ...wild, ...fan);
    for (const s of subs) await s.start();
    const n = 200;
    await publishAll(
      publisher,
      Array.from({ length: n }, (_, i) => toOutgoing(bookingReserved(`bk-share-${i}`))),
    );
    const received = (group: MqttSubscriber[]) => group.reduce((a, s) => a + s.stats.received, 0);
    const recorded = (group: MqttSubscriber[]) => group.reduce((a, s) => a + s.stats.recorded, 0);
    await waitFor(() => recorded(exact) === n && recorded(wild) === n && recorded(fan) === n, {
      timeoutMs: 15_000,
      message: `${n} recorded by each group`,
    });
    // Shared: one receipt per message, split between the two (Mosquitto round robin); fanout: two.
    await waitFor(() => received(fan) === 2 * n, { message: 'fanout: every instance received every message' });
    assert.equal(received(exact), n, 'shared exact topic: each message received once');
    assert.equal(received(wild), n, 'shared wildcard: each message received once');
    for (const s of [...exact, ...wild])
      assert.ok(
        s.stats.received >= n / 4,
        `split: ${exact
          .concat(wild)
          .map((x) => x.stats.received)
          .join(', ')}`,
      );
    assert.equal(
      exact.reduce((a, s) => a + s.stats.duplicates, 0),
      0,
    );
    assert.equal(
      fan.reduce((a, s) => a + s.stats.duplicates, 0),
      n,
      'fanout: the second copy is a duplicate in the ledger',
    );
  } finally {
    for (const s of subs) await s.close();
    await publisher.close();
    await mosquitto.close();
  }
});

test('a persistent session switched from fanout to shared drops its fanout subscription', async () => {
  const mosquitto = await startMosquitto();
  const publisher = await MqttPublisher.connect(mosquitto.url, { clientId: uniqueName('pub'), clean: true, protocolVersion: 'auto' });
  const group = uniqueName('sw');
  const store = new MemoryLedgerStore();
  const ids = [uniqueName('sw-a'), uniqueName('sw-b')];
  let subs: MqttSubscriber[] = [];
  try {
    // Instance a runs in fanout first, leaving a session with the plain subscription.
    const first = subscriberOn(mosquitto, store, group, 'fanout', 'auto', {}, ids[0]);
    await first.start();
    await first.close();
    subs = ids.map((id) => subscriberOn(mosquitto, store, group, 'shared', 'auto', {}, id));
    for (const s of subs) await s.start();
    const n = 100;
    await publishAll(
      publisher,
      Array.from({ length: n }, (_, i) => toOutgoing(bookingReserved(`bk-sw-${i}`))),
    );
    await waitFor(() => subs.reduce((a, s) => a + s.stats.recorded, 0) === n, { message: `${n} recorded` });
    assert.equal(
      subs.reduce((a, s) => a + s.stats.received, 0),
      n,
      `each message once: ${subs.map((s) => s.stats.received).join(', ')} (a leftover fanout subscription would add ${n})`,
    );
  } finally {
    for (const s of subs) await s.close();
    await publisher.close();
    await mosquitto.close();
  }
});

test('shared mode: an instance that closes leaves the group, so nothing is queued for it while it is away', async () => {
  const mosquitto = await startMosquitto();
  const publisher = await MqttPublisher.connect(mosquitto.url, { clientId: uniqueName('pub'), clean: true, protocolVersion: 'auto' });
  const group = uniqueName('leave');
  const store = new MemoryLedgerStore();
  const leaverId = uniqueName('leaver');
  const stayer = subscriberOn(mosquitto, store, group, 'shared', 'auto');
  let leaver = subscriberOn(mosquitto, store, group, 'shared', 'auto', {}, leaverId);
  try {
    await stayer.start();
    await leaver.start();
    await leaver.close();
    const n = 100;
    await publishAll(
      publisher,
      Array.from({ length: n }, (_, i) => toOutgoing(bookingReserved(`bk-leave-${i}`))),
    );
    await waitFor(() => stayer.stats.recorded === n, { message: `the remaining instance got all ${n}` });
    // Back under the same client id (its persistent session): nothing was waiting there.
    leaver = subscriberOn(mosquitto, store, group, 'shared', 'auto', {}, leaverId);
    await leaver.start();
    await publishAll(publisher, [toOutgoing(bookingReserved('bk-leave-last'))]);
    await waitFor(() => stayer.stats.received + leaver.stats.received === n + 1, { message: 'the last one received' });
    assert.ok(leaver.stats.received <= 1, `nothing queued for the instance that left (it received ${leaver.stats.received})`);
  } finally {
    await stayer.close();
    await leaver.close();
    await publisher.close();
    await mosquitto.close();
  }
});

test('MQTT 5 publishes carry correlation_id and causation_id as user properties; 3.1.1 publishes work unchanged', async () => {
  const mosquitto = await startMosquitto();
  const listener = await mqtt.connectAsync(mosquitto.url, { clientId: uniqueName('listen'), protocolVersion: 5 });
  const got: IPublishPacket[] = [];
  listener.on('message', (_t, _m, packet) => got.push(packet));
  await listener.subscribeAsync(BookingReserved.topic.replace(/\./g, '/'), { qos: 1 });
  const v5 = await MqttPublisher.connect(mosquitto.url, { clientId: uniqueName('p5'), clean: true, protocolVersion: 'auto' });
  const v4 = await MqttPublisher.connect(mosquitto.url, { clientId: uniqueName('p4'), clean: true, protocolVersion: 4 });
  try {
    const flow = newEventId();
    const cause = newEventId();
    const e = bookingReserved('bk-props', { correlation_id: flow, causation_id: cause });
    await publishAll(v5, [toOutgoing(e)]);
    await publishAll(v4, [toOutgoing(bookingReserved('bk-props-4'))]);
    await waitFor(() => got.length === 2, { message: 'both publishes received' });
    assert.deepEqual({ ...got[0]!.properties?.userProperties }, { correlation_id: flow, causation_id: cause });
    assert.equal(got[1]!.properties?.userProperties, undefined);
  } finally {
    await v5.close();
    await v4.close();
    await listener.endAsync();
    await mosquitto.close();
  }
});
