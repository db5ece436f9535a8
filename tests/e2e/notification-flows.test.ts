// The "→ notify" end of the value streams on real infrastructure: location, booking, payment and
// notifications in this process, each on its own Postgres database, a Redis delivery ledger, a Mosquitto
// started with the project's limits, and the mail catcher as the SMTP server. Document events are
// published to MQTT as the documents service publishes them.
import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { createBookingService } from '@albergue/booking/service';
import type { EventDefinition, EventEnvelope } from '@albergue/events';
import { BookingCancelled, DocumentRejected, DocumentValidated, newEnvelope, PaymentConfirmed, ReservationExpired } from '@albergue/events';
import { createLocationService } from '@albergue/location/service';
import type { CaughtMessage, MailCatcher } from '@albergue/mail-catcher';
import { startMailCatcher } from '@albergue/mail-catcher';
import { MqttPublisher, publishAll, RedisDeliveryLedger, toOutgoing } from '@albergue/messaging';
import type { TestBroker } from '@albergue/messaging/testing';
import { deleteNamespace, startMosquitto } from '@albergue/messaging/testing';
import { createNotificationsService } from '@albergue/notifications/service';
import { createPaymentService } from '@albergue/payment/service';
import { uniqueName, waitFor } from '@albergue/platform/testing';
import type { ServiceRuntime } from '@albergue/runtime';
import { ledgerBundle } from '@albergue/runtime';
import { day, http, observeEvents, registerAlbergue, reservation, reserveAndPay, waitForBookingStatus } from './guest.js';

const PG = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('guests told by email: reserve → pay → confirm / expire / decline, documents → notify', () => {
  let broker: TestBroker;
  let ledger: RedisDeliveryLedger;
  let catcher: MailCatcher;
  let publisher: MqttPublisher;
  const ledgerNamespace = `${uniqueName('e2e_notify')}:`;
  let observer: Awaited<ReturnType<typeof observeEvents>> | undefined;
  const services: ServiceRuntime[] = [];
  const databases: string[] = [];
  const urls = { location: '', booking: '', payment: '', notifications: '' };
  const admin = new pg.Client({ connectionString: PG });

  const seen = (): EventEnvelope[] => observer?.seen ?? [];
  const ofBooking = (bookingId: string) => (e: EventEnvelope) => (e.payload as { booking_id?: string }).booking_id === bookingId;
  const find = (type: string, pred: (e: EventEnvelope) => boolean) => seen().find((e) => e.event_type === type && pred(e));
  const mailsOf = (bookingId: string): CaughtMessage[] =>
    catcher.messages().filter((m) => m.headers['x-albergue-booking-id'] === bookingId);
  /** Waits until notifications has handled (and acked) the event of `def` about the booking. */
  const handled = async (def: EventDefinition, bookingId: string) => {
    const e = await waitFor(() => find(def.name, ofBooking(bookingId)), { timeoutMs: 30_000, message: `${def.name} on MQTT` });
    await waitFor(() => ledger.isProcessed('notifications', def.topic, e.event_id), {
      timeoutMs: 30_000,
      message: `notifications to handle ${def.name}`,
    });
  };

  before(async () => {
    await admin.connect();
    broker = await startMosquitto();
    ledger = new RedisDeliveryLedger({ url: REDIS, namespace: ledgerNamespace });
    catcher = await startMailCatcher({ smtpPort: 0, httpPort: 0 });
    observer = await observeEvents(broker.url);
    publisher = await MqttPublisher.connect(broker.url, { clientId: uniqueName('e2e-documents'), clean: true });

    const env = {
      ...process.env,
      BOOKING_HOLD_MS: '8000',
      BOOKING_EXPIRY_SWEEP_MS: '100',
      PAYMENT_SIM_LATENCY_MS: '20',
      PAYMENT_REFUND_SWEEP_MS: '200',
    };
    const createNotifications = (o: Parameters<typeof createNotificationsService>[0]) =>
      createNotificationsService({ ...o, smtpUrl: catcher.smtpUrl });
    for (const [name, create] of [
      ['location', createLocationService],
      ['booking', createBookingService],
      ['payment', createPaymentService],
      ['notifications', createNotifications],
    ] as const) {
      const db = uniqueName(`e2e_${name}`).toLowerCase();
      await admin.query(`CREATE DATABASE ${db}`);
      databases.push(db);
      services.push(
        await create({
          env,
          ledger: ledgerBundle(ledger),
          relay: { pollIntervalMs: 100 },
          config: { port: 0, mqttUrl: broker.url, databaseUrl: PG.replace(/\/[^/]*$/, `/${db}`), redisUrl: REDIS },
        }),
      );
    }
    for (const rt of services) await rt.startConsumers();
    for (const rt of services) urls[rt.config.service as keyof typeof urls] = await rt.start();
  });

  after(async () => {
    for (const rt of services.reverse()) await rt.close();
    await publisher?.close();
    await observer?.close();
    await ledger?.close();
    await deleteNamespace(REDIS, ledgerNamespace);
    await catcher?.close();
    await broker?.close();
    for (const db of databases) await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await admin.end();
  });

  test("confirmed: exactly one mail, in the guest's language, with the booking's details", async () => {
    const albergue = await registerAlbergue(urls, 6);
    const { bookingId } = await reserveAndPay(urls, albergue, 1, '4242424242424242');
    await waitForBookingStatus(urls, bookingId, 'confirmed');
    const [mail] = await catcher.waitFor((m) => m.headers['x-albergue-booking-id'] === bookingId, { timeoutMs: 30_000 });
    await handled(PaymentConfirmed, bookingId); // silent: the confirmation tells it
    assert.equal(mailsOf(bookingId).length, 1);
    assert.deepEqual(mail!.to, ['pilgrim1@example.org']);
    assert.match(mail!.subject, new RegExp(`Reserva confirmada: ${albergue}`));
    assert.equal(mail!.headers['content-language'], 'es');
    const [y, m, d] = day(20).split('-');
    for (const s of [`Reserva: ${bookingId}`, `Albergue: ${albergue}`, `del ${d}/${m}/${y}`, 'Camas: 1', 'Total: 24,00 €'])
      assert.ok(mail!.text.includes(s), `${s} in ${mail!.text}`);
    assert.match(mail!.html ?? '', /<p>Hola, Pilgrim 1:<\/p>/);

    const sent = await waitFor(
      () =>
        find(
          'NotificationSent',
          (e) => (e.payload as { related_event_id: string }).related_event_id === mail!.headers['x-albergue-event-id'],
        ),
      {
        message: 'NotificationSent on MQTT',
      },
    );
    assert.equal((sent.payload as { recipient_masked: string }).recipient_masked, 'p***@example.org');
    assert.equal(sent.correlation_id, find('BookingReserved', ofBooking(bookingId))!.event_id, 'in the booking flow');
    const list = await http<{ notifications: { template: string; status: string; locale: string }[] }>(
      'GET',
      `${urls.notifications}/notifications?booking_id=${bookingId}`,
    );
    assert.deepEqual(
      list.body.notifications.map((n) => [n.template, n.status, n.locale]),
      [['booking_confirmed', 'sent', 'es']],
    );
  });

  test('an English-speaking guest gets English; an unpaid hold expires → one mail', async () => {
    const albergue = await registerAlbergue(urls, 2);
    const body = {
      ...reservation(albergue, 2),
      guest: { guest_id: uniqueName('guest'), name: 'Jane Walker', email: 'jane.walker@example.org', locale: 'en-GB' },
    };
    const r = await http<{ booking_id: string }>('POST', `${urls.booking}/bookings`, body);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    await waitForBookingStatus(urls, r.body.booking_id, 'expired');
    const [mail] = await catcher.waitFor((m) => m.headers['x-albergue-booking-id'] === r.body.booking_id, { timeoutMs: 30_000 });
    await handled(ReservationExpired, r.body.booking_id);
    assert.equal(mailsOf(r.body.booking_id).length, 1);
    assert.deepEqual(mail!.to, ['jane.walker@example.org']);
    assert.match(mail!.subject, /Your reservation expired/);
    assert.equal(mail!.headers['x-albergue-template'], 'reservation_expired');
    assert.match(mail!.text, /Hello Jane Walker/);
    assert.match(mail!.text, new RegExp(`Booking: ${r.body.booking_id}`));
  });

  test('a declined card → one mail (the cancellation that follows is told by it)', async () => {
    const albergue = await registerAlbergue(urls, 4);
    const { bookingId } = await reserveAndPay(urls, albergue, 3, '4000000000000002');
    await waitForBookingStatus(urls, bookingId, 'cancelled');
    const [mail] = await catcher.waitFor((m) => m.headers['x-albergue-booking-id'] === bookingId, { timeoutMs: 30_000 });
    await handled(BookingCancelled, bookingId);
    assert.equal(mailsOf(bookingId).length, 1);
    assert.equal(mail!.headers['x-albergue-template'], 'payment_failed');
    assert.match(mail!.subject, /No pudimos cobrar tu reserva/);
    assert.match(mail!.text, /el banco rechazó la tarjeta/);
  });

  test('documents: validated and rejected → one mail each, with the masked number and every reason', async () => {
    const albergue = await registerAlbergue(urls, 3);
    const r = await http<{ booking_id: string }>('POST', `${urls.booking}/bookings`, {
      ...reservation(albergue, 4),
      check_in: day(30),
      check_out: day(31),
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const guestId = 'guest-4';
    const validated = newEnvelope(DocumentValidated, {
      document_id: uniqueName('doc'),
      guest_id: guestId,
      booking_id: r.body.booking_id,
      document_type: 'dni',
      document_number_masked: '*****678Z',
      issuing_country: 'ESP',
      expires_on: '2031-05-31',
      validated_at: new Date().toISOString(),
    });
    const rejected = newEnvelope(DocumentRejected, {
      document_id: uniqueName('doc'),
      guest_id: guestId,
      document_type: 'passport',
      reasons: ['document_expired', 'mrz_check_digit_document_number'],
      rejected_at: new Date().toISOString(),
    });
    await publishAll(publisher, [toOutgoing(validated), toOutgoing(rejected), toOutgoing(validated)]);
    const mails = await catcher.waitFor(
      (m) => m.headers['x-albergue-event-id'] === validated.event_id || m.headers['x-albergue-event-id'] === rejected.event_id,
      {
        count: 2,
        timeoutMs: 30_000,
      },
    );
    // The mail reaches the catcher before its row commits (sent inside the inbox transaction): wait for both handlers.
    await waitFor(
      async () =>
        (await ledger.isProcessed('notifications', DocumentValidated.topic, validated.event_id)) &&
        (await ledger.isProcessed('notifications', DocumentRejected.topic, rejected.event_id)),
    );
    assert.equal(mails.length, 2);
    const ok = mails.find((m) => m.headers['x-albergue-template'] === 'document_validated')!;
    const no = mails.find((m) => m.headers['x-albergue-template'] === 'document_rejected')!;
    assert.match(ok.text, /Hemos aceptado tu DNI \*\*\*\*\*678Z \(válido hasta el 31\/05\/2031\)/);
    assert.match(no.text, /el documento está caducado \(document_expired\)/);
    assert.match(no.text, /el dígito de control del número en la MRZ no coincide \(mrz_check_digit_document_number\)/);
    const byGuest = await http<{ notifications: { template: string }[] }>('GET', `${urls.notifications}/notifications?guest_id=${guestId}`);
    assert.deepEqual(byGuest.body.notifications.map((n) => n.template).sort(), ['document_rejected', 'document_validated']);
  });

  test('no event or mail header carries a full address; forgetting a guest erases the contact', async () => {
    for (const e of seen().filter((x) => x.event_type.startsWith('Notification')))
      assert.doesNotMatch(JSON.stringify(e), /pilgrim\d+@|jane\.walker@/);
    const del = await http<{ contact_erased: boolean }>('DELETE', `${urls.notifications}/contacts/guest-1`);
    assert.equal(del.status, 200);
    assert.equal(del.body.contact_erased, true);
  });
});
