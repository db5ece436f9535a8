// Real MQTT clients (mqtt.js over TCP and WebSocket, mosquitto_sub/pub) against the broker in memory mode.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { MqttClient } from 'mqtt';
import { waitFor } from '@albergue/platform/testing';
import type { RunningBroker } from '../../start.js';
import { asService, closeMqtt, connectMqtt, startTestBroker } from '../../testing/harness.js';
import { BOOKING_RESERVED_MQTT, bookingReserved } from '../../testing/fixtures.js';

const run = promisify(execFile);
let broker: RunningBroker;

before(async () => {
  broker = await startTestBroker();
});
after(async () => {
  await broker.close();
});

test('wrong or missing credentials are refused', async () => {
  await assert.rejects(
    connectMqtt(broker.mqttUrl, { username: 'booking', password: 'wrong' }),
    /bad user ?name or password|not authorized/i,
  );
  await assert.rejects(
    connectMqtt(broker.mqttUrl, { username: 'nobody', password: 'nobody-dev-password' }),
    /bad user ?name or password|not authorized/i,
  );
  await assert.rejects(connectMqtt(broker.mqttUrl, {}), /bad user ?name or password|not authorized/i);
  const ok = await connectMqtt(broker.mqttUrl, asService('booking'));
  assert.equal(ok.connected, true);
  await closeMqtt(ok);
});

test("a publish outside the client's context is refused (connection closed) and never delivered", async () => {
  let observer: MqttClient | undefined;
  let booking: MqttClient | undefined;
  let payment: MqttClient | undefined;
  try {
    observer = await connectMqtt(broker.mqttUrl, asService('observer'));
    const seen: string[] = [];
    observer.on('message', (topic) => seen.push(topic));
    await observer.subscribeAsync('albergue/#', { qos: 1 });

    booking = await connectMqtt(broker.mqttUrl, asService('booking'));
    const closed = new Promise<void>((resolve) => booking!.once('close', () => resolve()));
    booking.publish('albergue/payment/v1/PaymentConfirmed', '{"forged":true}', { qos: 1 });
    await closed;

    payment = await connectMqtt(broker.mqttUrl, asService('payment'));
    await payment.publishAsync('albergue/payment/v1/PaymentInitiated', 'marker', { qos: 1 });
    await waitFor(() => seen.includes('albergue/payment/v1/PaymentInitiated'), { timeoutMs: 5000, message: 'marker at the observer' });
    assert.deepEqual(seen, ['albergue/payment/v1/PaymentInitiated']);
  } finally {
    await closeMqtt(observer, booking, payment);
  }
});

test('the observer may not publish at all', async () => {
  const observer = await connectMqtt(broker.mqttUrl, asService('observer'));
  try {
    const closed = new Promise<void>((resolve) => observer.once('close', () => resolve()));
    observer.publish(BOOKING_RESERVED_MQTT, 'x', { qos: 1 });
    await closed;
    assert.equal(observer.connected, false);
  } finally {
    await closeMqtt(observer);
  }
});

test('a subscription outside the declarations is refused (SUBACK 0x80) and receives nothing', async () => {
  let payment: MqttClient | undefined;
  let booking: MqttClient | undefined;
  try {
    payment = await connectMqtt(broker.mqttUrl, asService('payment'));
    const seen: string[] = [];
    payment.on('message', (topic) => seen.push(topic));
    // mqtt.js rejects a SUBACK carrying a refusal; the packet tells which filter got what.
    const refusal = await payment
      .subscribeAsync({ 'albergue/booking/v1/BookingConfirmed': { qos: 1 }, [BOOKING_RESERVED_MQTT]: { qos: 1 }, 'albergue/#': { qos: 1 } })
      .then(
        () => undefined,
        (err: { packet?: { granted?: number[] } }) => err,
      );
    assert.deepEqual(refusal?.packet?.granted, [128, 1, 128]);
    booking = await connectMqtt(broker.mqttUrl, asService('booking'));
    await booking.publishAsync('albergue/booking/v1/BookingConfirmed', 'not for payment', { qos: 1 });
    await booking.publishAsync(BOOKING_RESERVED_MQTT, JSON.stringify(bookingReserved()), { qos: 1 });
    await waitFor(() => seen.includes(BOOKING_RESERVED_MQTT), { timeoutMs: 5000, message: 'BookingReserved at payment' });
    assert.deepEqual(seen, [BOOKING_RESERVED_MQTT]);
  } finally {
    await closeMqtt(payment, booking);
  }
});

test('a retained message reaches a late subscriber, over WebSocket too', async () => {
  let booking: MqttClient | undefined;
  let late: MqttClient | undefined;
  try {
    booking = await connectMqtt(broker.mqttUrl, asService('booking'));
    const body = JSON.stringify(bookingReserved(7));
    await booking.publishAsync('albergue/booking/v1/ReservationExpired', body, { qos: 1, retain: true });
    late = await connectMqtt(`ws://127.0.0.1:${broker.wsPort}`, asService('observer'));
    const got: { topic: string; payload: string; retain: boolean }[] = [];
    late.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), retain: packet.retain }));
    await late.subscribeAsync('albergue/booking/#', { qos: 1 });
    await waitFor(() => got.length > 0, { timeoutMs: 5000, message: 'retained message' });
    assert.deepEqual(got[0], { topic: 'albergue/booking/v1/ReservationExpired', payload: body, retain: true });
  } finally {
    await closeMqtt(booking, late);
  }
});

test('mosquitto_sub and mosquitto_pub work with credentials and are refused without', async () => {
  const port = String(broker.mqttPort);
  const booking = await connectMqtt(broker.mqttUrl, asService('booking'));
  try {
    await booking.publishAsync('albergue/booking/v1/BookingCancelled', 'retained-for-cli', { qos: 1, retain: true });
  } finally {
    await closeMqtt(booking);
  }
  const { stdout } = await run(
    'mosquitto_sub',
    [
      '-h',
      '127.0.0.1',
      '-p',
      port,
      '-V',
      'mqttv311',
      '-i',
      'albergue-observer-cli',
      '-u',
      'observer',
      '-P',
      'observer-dev-password',
      '-t',
      'albergue/booking/v1/BookingCancelled',
      '-C',
      '1',
      '-W',
      '5',
    ],
    { timeout: 10_000 },
  );
  assert.equal(stdout.trim(), 'retained-for-cli');
  await assert.rejects(
    run(
      'mosquitto_pub',
      ['-h', '127.0.0.1', '-p', port, '-V', 'mqttv311', '-u', 'booking', '-P', 'wrong', '-t', BOOKING_RESERVED_MQTT, '-m', 'x', '-q', '1'],
      { timeout: 10_000 },
    ),
  );
});

test('anonymous clients get read-only access only when explicitly allowed', async () => {
  const open = await startTestBroker({ allowAnonymous: true, wsPort: null });
  const anon = await connectMqtt(open.mqttUrl, { clientId: 'albergue-anonymous-1' });
  try {
    const granted = await anon.subscribeAsync('albergue/#', { qos: 1 });
    assert.equal(granted[0]?.qos, 1);
    const closed = new Promise<void>((resolve) => anon.once('close', () => resolve()));
    anon.publish(BOOKING_RESERVED_MQTT, 'x', { qos: 1 });
    await closed;
  } finally {
    await closeMqtt(anon);
    await open.close();
  }
});
