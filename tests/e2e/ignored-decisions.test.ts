// Decisions that change nothing are never dropped silently: booking and payment, composed by their
// composition roots and fed real messages over MQTT, log each with its reason and count it in
// decisions_ignored_total{service, decision, reason} on /metrics.
import { strict as assert } from 'node:assert';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import pg from 'pg';
import { pino } from 'pino';
import { createBookingService } from '@albergue/booking/service';
import type { EventEnvelope } from '@albergue/events';
import { BookingReserved, PaymentConfirmed, newEnvelope, toMqttTopic } from '@albergue/events';
import { SAMPLE_PAYLOADS } from '@albergue/events/node';
import type { TestBroker } from '@albergue/messaging/testing';
import { startMosquitto } from '@albergue/messaging/testing';
import { createPaymentService } from '@albergue/payment/service';
import { uniqueName, waitFor } from '@albergue/platform/testing';
import type { ServiceRuntime } from '@albergue/runtime';

const PG = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function capturedLogger(service: string) {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: pino({ level: 'warn', base: { service } }, stream) };
}

describe('decisions not applied: logged and counted by the services', () => {
  let broker: TestBroker;
  let publisher: mqtt.MqttClient;
  const admin = new pg.Client({ connectionString: PG });
  const databases: string[] = [];
  const services: Record<'booking' | 'payment', ServiceRuntime | undefined> = { booking: undefined, payment: undefined };
  const logs = { booking: capturedLogger('booking'), payment: capturedLogger('payment') };
  const urls = { booking: '', payment: '' };

  const publish = (e: EventEnvelope, topic: string) => publisher.publishAsync(toMqttTopic(topic), JSON.stringify(e), { qos: 1 });
  const counted = async (url: string, labels: string): Promise<number> => {
    const text = await (await fetch(`${url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('decisions_ignored_total{') && l.includes(labels));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
  };

  before(async () => {
    await admin.connect();
    broker = await startMosquitto();
    for (const name of ['booking', 'payment'] as const) {
      const db = uniqueName(`ignored_${name}`).toLowerCase();
      await admin.query(`CREATE DATABASE ${db}`);
      databases.push(db);
      const config = { port: 0, mqttUrl: broker.url, databaseUrl: PG.replace(/\/[^/]*$/, `/${db}`) };
      const options = { env: {}, config, logger: logs[name].logger, relay: { pollIntervalMs: 100 } };
      services[name] = name === 'booking' ? await createBookingService(options) : await createPaymentService(options);
    }
    for (const rt of Object.values(services)) await rt!.startConsumers();
    urls.booking = await services.booking!.start();
    urls.payment = await services.payment!.start();
    publisher = await mqtt.connectAsync(broker.url, { clientId: uniqueName('publisher') });
  });

  after(async () => {
    await publisher?.endAsync();
    for (const rt of [services.payment, services.booking]) await rt?.close();
    await broker?.close();
    for (const db of databases) await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await admin.end();
  });

  test('booking: a PaymentConfirmed for a booking it does not have → ConfirmBooking not applied (booking_not_found), logged and counted', async () => {
    const bookingId = uniqueName('bk-ghost');
    const paid = newEnvelope(PaymentConfirmed, { ...SAMPLE_PAYLOADS.PaymentConfirmed, booking_id: bookingId });
    await publish(paid, PaymentConfirmed.topic);
    await waitFor(async () => (await counted(urls.booking, 'decision="ConfirmBooking",reason="booking_not_found"')) >= 1, {
      timeoutMs: 20_000,
      message: 'the counter on booking /metrics',
    });
    const line = await waitFor(() => logs.booking.lines.find((l) => l.booking_id === bookingId), { message: 'the log line' });
    assert.deepEqual(
      {
        level: line.level,
        service: line.service,
        decision: line.decision,
        reason: line.reason,
        event_id: line.event_id,
        correlation_id: line.correlation_id,
      },
      {
        level: 40,
        service: 'booking',
        decision: 'ConfirmBooking',
        reason: 'booking_not_found',
        event_id: paid.event_id,
        correlation_id: paid.correlation_id,
      },
    );
    assert.match(String(line.detail), new RegExp(`booking ${bookingId}, which does not exist`));
    assert.match(await (await fetch(`${urls.booking}/metrics`)).text(), /decisions_ignored_total\{[^}]*service="booking"[^}]*\} 1/);
  });

  test('payment: a second BookingReserved for one booking → InitiatePayment not applied (already_initiated); the first one applied is not counted', async () => {
    const bookingId = uniqueName('bk-twice');
    const first = newEnvelope(BookingReserved, { ...SAMPLE_PAYLOADS.BookingReserved, booking_id: bookingId });
    // A different event (new event_id) for the same booking: not an MQTT redelivery, a second decision.
    const second = newEnvelope(BookingReserved, { ...SAMPLE_PAYLOADS.BookingReserved, booking_id: bookingId });
    await publish(first, BookingReserved.topic);
    await publish(second, BookingReserved.topic);
    await waitFor(async () => (await counted(urls.payment, 'decision="InitiatePayment",reason="already_initiated"')) >= 1, {
      timeoutMs: 20_000,
      message: 'the counter on payment /metrics',
    });
    const lines = await waitFor(() => {
      const found = logs.payment.lines.filter((l) => l.booking_id === bookingId && l.decision === 'InitiatePayment');
      return found.length > 0 ? found : undefined;
    });
    assert.equal(lines.length, 1, 'only the second BookingReserved is reported');
    assert.equal(lines[0]!.reason, 'already_initiated');
    assert.ok([first.event_id, second.event_id].includes(String(lines[0]!.event_id)));
    assert.equal(await counted(urls.payment, 'decision="InitiatePayment",reason="already_initiated"'), 1);
  });
});
