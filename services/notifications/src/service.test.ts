// The notifications service on real infrastructure: Postgres, a Redis delivery ledger, Mosquitto,
// and the mail catcher as its SMTP server. Events are published to MQTT as booking would publish them.
// Exactly one mail per event across duplicates, two instances and a restart (with Redis forgetting);
// an SMTP outage (breaker opens and closes, nothing lost or sent twice); an outage beyond the retry
// budget (DLQ, then a replay delivers once).
import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';
import type { EnvelopeOf, EventEnvelope } from '@albergue/events';
import { BookingConfirmed, BookingReserved, newEnvelope, withCorrelation } from '@albergue/events';
import type { MailCatcher } from '@albergue/mail-catcher';
import { startMailCatcher } from '@albergue/mail-catcher';
import type { SubscriptionPolicy } from '@albergue/messaging';
import { DlqOperations, MqttPublisher, publishAll, RedisDeliveryLedger, toOutgoing } from '@albergue/messaging';
import type { TestBroker } from '@albergue/messaging/testing';
import { deleteNamespace, startMosquitto } from '@albergue/messaging/testing';
import { PgDatabase, quoteIdent } from '@albergue/outbox';
import { PG_ADMIN_URL } from '@albergue/outbox/test-databases';
import { uniqueName, waitFor } from '@albergue/platform/testing';
import type { ServiceRuntime } from '@albergue/runtime';
import { ledgerBundle } from '@albergue/runtime';
import { createNotificationsService } from './service.js';

const REDIS = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

let broker: TestBroker;
let publisher: MqttPublisher;
const cleanups: (() => Promise<void>)[] = [];

before(async () => {
  broker = await startMosquitto();
  publisher = await MqttPublisher.connect(broker.url, { clientId: uniqueName('notifications-test-pub'), clean: true });
});
after(async () => {
  for (const c of cleanups.reverse()) await c();
  await publisher?.close();
  await broker?.close();
});

async function newDatabase(): Promise<string> {
  const name = uniqueName('notifications_svc').toLowerCase();
  const admin = new PgDatabase(PG_ADMIN_URL, { max: 1 });
  await admin.exec(`CREATE DATABASE ${quoteIdent(name)}`);
  await admin.close();
  cleanups.push(async () => {
    const a = new PgDatabase(PG_ADMIN_URL, { max: 1 });
    await a.exec(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
    await a.close();
  });
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

function newLedger(): RedisDeliveryLedger {
  const namespace = `${uniqueName('notifications')}:`;
  const ledger = new RedisDeliveryLedger({ url: REDIS, namespace });
  cleanups.push(async () => {
    await ledger.close();
    await deleteNamespace(REDIS, namespace);
  });
  return ledger;
}

async function startService(o: {
  databaseUrl: string;
  ledger: RedisDeliveryLedger;
  catcher: MailCatcher;
  policy: Partial<SubscriptionPolicy>;
  instance?: string;
}): Promise<ServiceRuntime> {
  const rt = await createNotificationsService({
    env: { ...process.env, INSTANCE_ID: o.instance ?? '0', NOTIFICATIONS_SMTP_TIMEOUT_MS: '2000' },
    ledger: ledgerBundle(o.ledger),
    relay: { pollIntervalMs: 100 },
    config: { port: 0, mqttUrl: broker.url, databaseUrl: o.databaseUrl, redisUrl: REDIS },
    smtpUrl: o.catcher.smtpUrl,
    policy: o.policy,
  });
  await rt.start();
  return rt;
}

function booking(
  n: number,
  locale = 'es',
): { reserved: EnvelopeOf<typeof BookingReserved>; confirmed: EnvelopeOf<typeof BookingConfirmed> } {
  const booking_id = uniqueName(`bk${n}`);
  const reserved = newEnvelope(BookingReserved, {
    booking_id,
    albergue_id: 'roncesvalles-colegiata',
    guest: { guest_id: uniqueName('g'), name: `Pilgrim ${n}`, email: `pilgrim.${booking_id}@example.org`, locale },
    check_in: '2026-12-20',
    check_out: '2026-12-22',
    beds: 1,
    total: { amount_minor: 2400, currency: 'EUR' },
    hold_expires_at: '2026-12-02T10:15:00.000Z',
  });
  const confirmed = newEnvelope(
    BookingConfirmed,
    { booking_id, albergue_id: 'roncesvalles-colegiata', payment_id: `pay-${n}`, confirmed_at: '2026-12-02T10:01:00.000Z' },
    withCorrelation(reserved),
  );
  return { reserved, confirmed };
}

const publish = (...events: EventEnvelope[]) => publishAll(publisher, events.map(toOutgoing));
const mailsFor = (c: MailCatcher, b: { reserved: EnvelopeOf<typeof BookingReserved> }) =>
  c.messages().filter((m) => m.headers['x-albergue-booking-id'] === b.reserved.payload.booking_id);

describe('exactly one mail per event: duplicates, two instances, a restart with Redis forgetting', () => {
  let catcher: MailCatcher;
  let databaseUrl: string;
  const running: ServiceRuntime[] = [];

  before(async () => {
    catcher = await startMailCatcher({ smtpPort: 0, httpPort: 0 });
    cleanups.push(() => catcher.close());
    databaseUrl = await newDatabase();
  });
  after(async () => {
    for (const rt of running) await rt.close();
  });

  test('two instances on one ledger and database, every event published twice: one mail each, listed once', async () => {
    const ledger = newLedger();
    const policy = { backoff: { initialMs: 50, maxMs: 500, multiplier: 2, jitter: 0.2 } };
    running.push(await startService({ databaseUrl, ledger, catcher, policy, instance: 'dup0' }));
    running.push(await startService({ databaseUrl, ledger, catcher, policy, instance: 'dup1' }));
    const bookings = Array.from({ length: 12 }, (_, i) => booking(i, i % 2 === 0 ? 'es-ES' : 'en'));
    for (const b of bookings) await publish(b.reserved);
    for (const b of bookings) await publish(b.confirmed, b.confirmed);
    await catcher.waitFor((m) => bookings.some((b) => m.headers['x-albergue-booking-id'] === b.reserved.payload.booking_id), {
      count: bookings.length,
      timeoutMs: 30_000,
    });
    // A late duplicate, after everything was handled.
    await publish(bookings[0]!.confirmed);
    await waitFor(
      async () =>
        (await running[0]!.db.query('SELECT 1 FROM inbox_events WHERE event_id = $1', [bookings[0]!.confirmed.event_id])).rowCount === 1,
    );

    for (const [i, b] of bookings.entries()) {
      const mails = mailsFor(catcher, b);
      assert.equal(mails.length, 1, `booking ${i}: ${mails.length} mails`);
      const m = mails[0]!;
      assert.deepEqual(m.to, [b.reserved.payload.guest.email]);
      assert.match(m.subject, i % 2 === 0 ? /Reserva confirmada/ : /Booking confirmed/);
      assert.equal(m.headers['content-language'], i % 2 === 0 ? 'es' : 'en');
      assert.equal(m.headers['x-albergue-event-id'], b.confirmed.event_id);
      assert.equal(m.headers['message-id'], `<${m.headers['x-albergue-notification-id']}@notifications.albergue.local>`);
    }
    const res = await running[0]!.http.inject({
      method: 'GET',
      url: `/notifications?booking_id=${bookings[3]!.reserved.payload.booking_id}`,
    });
    assert.equal(res.statusCode, 200);
    const list = res.json<{ notifications: Record<string, unknown>[] }>().notifications;
    assert.equal(list.length, 1);
    assert.equal(list[0]!.status, 'sent');
    assert.equal(list[0]!.template, 'booking_confirmed');
    assert.equal(list[0]!.related_event_id, bookings[3]!.confirmed.event_id);
    assert.match(String(list[0]!.recipient_masked), /^p\*\*\*@example\.org$/);
    assert.doesNotMatch(res.body, /pilgrim\./, 'the address is never shown whole');

    // Restart both instances on a fresh ledger (Redis forgot everything) and redeliver every event: the
    // Postgres inbox still knows them, so nothing is sent twice.
    for (const rt of running.splice(0)) await rt.close();
    const forgetful = newLedger();
    running.push(await startService({ databaseUrl, ledger: forgetful, catcher, policy, instance: 'dup0' }));
    const before = catcher.messages().length;
    for (const b of bookings) await publish(b.reserved, b.confirmed);
    await waitFor(
      async () => {
        const done = await Promise.all(
          bookings.map((b) => forgetful.isProcessed('notifications', BookingConfirmed.topic, b.confirmed.event_id)),
        );
        return done.every(Boolean);
      },
      { timeoutMs: 30_000, message: 'the redelivered events to be handled' },
    );
    const metrics = await (await fetch(`${await urlOf(running[0]!)}/metrics`)).text();
    assert.match(metrics, /events_duplicate_total\{[^}]*topic="albergue.booking.v1.BookingConfirmed"[^}]*\} 12/);
    assert.equal(catcher.messages().length, before, 'no second mail after the restart');
  });
});

async function urlOf(rt: ServiceRuntime): Promise<string> {
  const addr = rt.http.server.address();
  return Promise.resolve(typeof addr === 'object' && addr ? `http://127.0.0.1:${addr.port}` : '');
}

describe('two instances while the SMTP server answers slowly', () => {
  // Answers come 1.5 s late, within the SMTP timeout (2 s) and the handler's budget (90% of 6 s).
  const policy = { visibilityTimeoutMs: 6000, maxAttempts: 10, backoff: { initialMs: 50, maxMs: 200, multiplier: 2, jitter: 0.2 } };

  async function twoInstancesKnowing(bookings: ReturnType<typeof booking>[], catcher: MailCatcher, ledger: RedisDeliveryLedger) {
    const databaseUrl = await newDatabase();
    const instances = [
      await startService({ databaseUrl, ledger, catcher, policy, instance: 'slow0' }),
      await startService({ databaseUrl, ledger, catcher, policy, instance: 'slow1' }),
    ];
    for (const rt of instances) cleanups.push(() => rt.close());
    for (const b of bookings) await publish(b.reserved);
    await waitFor(async () => (await instances[0]!.db.query('SELECT 1 FROM guest_contacts')).rowCount === bookings.length, {
      message: 'the contacts to be known',
    });
    return instances;
  }

  test('every event published twice while each mail takes 1.5 s: one mail per event, recorded once', async () => {
    const catcher = await startMailCatcher({ smtpPort: 0, httpPort: 0 });
    cleanups.push(() => catcher.close());
    const ledger = newLedger();
    const bookings = Array.from({ length: 6 }, (_, i) => booking(200 + i));
    const [first] = await twoInstancesKnowing(bookings, catcher, ledger);
    catcher.answerLate(1500);
    for (const b of bookings) await publish(b.confirmed, b.confirmed);
    await waitFor(async () => (await first!.db.query(`SELECT 1 FROM notifications WHERE status = 'sent'`)).rowCount === bookings.length, {
      timeoutMs: 40_000,
      message: 'every notification recorded as sent',
    });
    for (const [i, b] of bookings.entries()) assert.equal(mailsFor(catcher, b).length, 1, `booking ${i}: one mail`);
    assert.deepEqual(await ledger.deadLetters.topics(), [], 'nothing dead-lettered');
  });

  test('an answer later than the SMTP timeout: the mail goes out again with the same Message-ID, recorded once', async () => {
    const catcher = await startMailCatcher({ smtpPort: 0, httpPort: 0 });
    cleanups.push(() => catcher.close());
    const ledger = newLedger();
    const b = booking(300);
    const [first] = await twoInstancesKnowing([b], catcher, ledger);
    catcher.answerLate(2500); // past the 2 s SMTP timeout: the sender gives up on a mail that was delivered
    await publish(b.confirmed);
    await catcher.waitFor((m) => m.headers['x-albergue-event-id'] === b.confirmed.event_id, { timeoutMs: 20_000 });
    catcher.answerLate(0);
    await waitFor(async () => (await first!.db.query(`SELECT 1 FROM notifications WHERE status = 'sent'`)).rowCount === 1, {
      timeoutMs: 30_000,
      message: 'the notification recorded as sent once SMTP answers in time',
    });
    const mails = mailsFor(catcher, b);
    assert.ok(mails.length >= 2, `the retry sent it again (${mails.length} mails)`);
    assert.equal(new Set(mails.map((m) => m.headers['message-id'])).size, 1, 'every copy has the same Message-ID (receivers drop repeats)');
  });

  test('an SMTP timeout that does not fit the visibility timeout is refused at start, naming the variable', async () => {
    await assert.rejects(
      createNotificationsService({
        env: { ...process.env, NOTIFICATIONS_SMTP_TIMEOUT_MS: '5000' },
        config: { port: 0, mqttUrl: broker.url, databaseUrl: 'postgres://127.0.0.1:1/none', redisUrl: REDIS },
        smtpUrl: 'smtp://127.0.0.1:1',
        policy: { visibilityTimeoutMs: 6000 },
      }),
      /NOTIFICATIONS_SMTP_TIMEOUT_MS 5000 ms is too long for the visibility timeout of BookingConfirmed \(6000 ms\).*at most 2000 ms/,
    );
  });
});

describe('SMTP outages', () => {
  test('down for a while: retried, the breaker opens and later closes, nothing lost, nothing sent twice', async () => {
    const catcher = await startMailCatcher({ smtpPort: 0, httpPort: 0 });
    cleanups.push(() => catcher.close());
    const ledger = newLedger();
    const rt = await startService({
      databaseUrl: await newDatabase(),
      ledger,
      catcher,
      instance: 'breaker',
      policy: {
        maxAttempts: 50,
        backoff: { initialMs: 50, maxMs: 300, multiplier: 2, jitter: 0.2 },
        breaker: { failureThreshold: 3, windowMs: 10_000, openMs: 500 },
      },
    });
    cleanups.push(() => rt.close());
    const bookings = Array.from({ length: 5 }, (_, i) => booking(100 + i));
    for (const b of bookings) await publish(b.reserved);
    await waitFor(async () => (await rt.db.query('SELECT 1 FROM guest_contacts')).rowCount === bookings.length, {
      message: 'the contacts to be known',
    });

    await catcher.stopAccepting('refuse');
    for (const b of bookings) await publish(b.confirmed);
    const states = new Set<string>();
    await waitFor(
      async () => {
        const s = await ledger.breakers.status('notifications', BookingConfirmed.topic);
        states.add(s.state);
        return s.state === 'open';
      },
      { timeoutMs: 20_000, message: 'the breaker to open while SMTP is down' },
    );
    assert.equal(catcher.messages().length, 0);
    await catcher.resume();
    await catcher.waitFor(() => true, { count: bookings.length, timeoutMs: 30_000 });
    await waitFor(async () => (await ledger.breakers.status('notifications', BookingConfirmed.topic)).state === 'closed', {
      timeoutMs: 20_000,
      message: 'the breaker to close once SMTP is back',
    });
    await waitFor(async () => (await rt.db.query(`SELECT 1 FROM notifications WHERE status = 'sent'`)).rowCount === bookings.length, {
      message: 'every notification recorded as sent',
    });
    for (const b of bookings) assert.equal(mailsFor(catcher, b).length, 1);
    assert.equal(catcher.messages().length, bookings.length, 'nothing sent twice');
    assert.deepEqual(await ledger.deadLetters.topics(), [], 'nothing dead-lettered');
    const metrics = await (await fetch(`${await urlOf(rt)}/metrics`)).text();
    assert.match(metrics, /notifications_send_errors_total\{[^}]*kind="smtp"[^}]*\} [1-9]/);
    assert.match(metrics, /notifications_sent_total\{[^}]*template="booking_confirmed"[^}]*\} 5/);
  });

  test('down beyond the retry budget: a DLQ entry, and a replay once SMTP is back delivers exactly once', async () => {
    const catcher = await startMailCatcher({ smtpPort: 0, httpPort: 0 });
    cleanups.push(() => catcher.close());
    const ledger = newLedger();
    const rt = await startService({
      databaseUrl: await newDatabase(),
      ledger,
      catcher,
      instance: 'dlq',
      policy: {
        maxAttempts: 3,
        backoff: { initialMs: 50, maxMs: 200, multiplier: 2, jitter: 0.2 },
        breaker: { failureThreshold: 100, windowMs: 10_000, openMs: 500 },
      },
    });
    cleanups.push(() => rt.close());
    const b = booking(200, 'es');
    await publish(b.reserved);
    await waitFor(async () => (await rt.db.query('SELECT 1 FROM guest_contacts')).rowCount === 1, { message: 'the contact to be known' });

    await catcher.stopAccepting('tempfail'); // 451 to every transaction: transient
    await publish(b.confirmed);
    const entry = await waitFor(
      async () => (await ledger.deadLetters.list(BookingConfirmed.topic)).find((e) => e.id === b.confirmed.event_id),
      {
        timeoutMs: 20_000,
        message: 'the DLQ entry',
      },
    ).catch(async (err: unknown) => {
      console.error(
        await ledger.deadLetters.topics(),
        await ledger.depth('notifications'),
        await ledger.breakers.list(),
        catcher.failureMode,
      );
      throw err;
    });
    assert.equal(entry.subscriber, 'notifications');
    assert.equal(entry.attempts, 3);
    assert.ok(
      entry.errors.every((e) => /451|temporarily/.test(e.message)),
      JSON.stringify(entry.errors),
    );
    assert.equal(catcher.messages().length, 0);
    const listed = await rt.http.inject({ method: 'GET', url: `/notifications?booking_id=${b.reserved.payload.booking_id}` });
    assert.equal(listed.json<{ notifications: unknown[] }>().notifications.length, 0, 'nothing recorded: the event waits in the DLQ');

    await catcher.resume();
    const report = await new DlqOperations({ deadLetters: ledger.deadLetters, ledger }).replay(BookingConfirmed.topic);
    assert.equal(report.replayed, 1);
    const [mail] = await catcher.waitFor((m) => m.headers['x-albergue-event-id'] === b.confirmed.event_id, { timeoutMs: 20_000 });
    assert.match(mail!.subject, /Reserva confirmada/);
    // A second replay finds nothing; a republished duplicate is skipped.
    assert.equal((await new DlqOperations({ deadLetters: ledger.deadLetters, ledger }).replay(BookingConfirmed.topic)).replayed, 0);
    await publish(b.confirmed);
    await waitFor(async () => {
      const r = await rt.http.inject({ method: 'GET', url: `/notifications?booking_id=${b.reserved.payload.booking_id}` });
      return r.json<{ notifications: { status: string }[] }>().notifications[0]?.status === 'sent';
    });
    assert.equal(mailsFor(catcher, b).length, 1);
  });
});

describe('SMTP refusals', () => {
  test('a 5xx for the recipient: NotificationFailed(smtp_rejected) at once, no retry, no DLQ, the address masked everywhere', async () => {
    const catcher = await startMailCatcher({ smtpPort: 0, httpPort: 0 });
    cleanups.push(() => catcher.close());
    const ledger = newLedger();
    const rt = await startService({ databaseUrl: await newDatabase(), ledger, catcher, instance: 'reject', policy: {} });
    cleanups.push(() => rt.close());
    const b = booking(400, 'en');
    catcher.rejectRecipient(b.reserved.payload.guest.email);
    await publish(b.reserved, b.confirmed);
    const row = await waitFor(
      async () => {
        const r = await rt.http.inject({ method: 'GET', url: `/notifications?booking_id=${b.reserved.payload.booking_id}` });
        return r.json<{ notifications: { status: string; error?: string; recipient_masked?: string }[] }>().notifications[0];
      },
      { timeoutMs: 20_000, message: 'the notification to be recorded' },
    );
    assert.equal(row.status, 'failed');
    assert.match(row.error ?? '', /^smtp_rejected: 550 /);
    assert.equal(row.recipient_masked, 'p***@example.org');
    const { rows } = await rt.db.query<{ envelope: unknown }>(`SELECT envelope FROM outbox_events WHERE topic LIKE '%NotificationFailed'`);
    assert.equal(rows.length, 1);
    const everything = JSON.stringify([rows, row, await ledger.deadLetters.topics()]);
    assert.doesNotMatch(
      everything,
      new RegExp(b.reserved.payload.guest.email.replace(/[.]/g, '\\.')),
      'no full address in the event or the list',
    );
    assert.deepEqual(await ledger.deadLetters.topics(), []);
    assert.equal(catcher.messages().length, 0);
  });
});

describe('HTTP', () => {
  test('validation is strict; DELETE /contacts forgets', async () => {
    const catcher = await startMailCatcher({ smtpPort: 0, httpPort: 0 });
    cleanups.push(() => catcher.close());
    const rt = await startService({ databaseUrl: await newDatabase(), ledger: newLedger(), catcher, policy: {}, instance: 'http' });
    cleanups.push(() => rt.close());
    const bad = async (url: string, path: string) => {
      const r = await rt.http.inject({ method: 'GET', url });
      assert.equal(r.statusCode, 400, `${url}: ${r.body}`);
      assert.match(String(r.headers['content-type']), /^application\/problem\+json/);
      assert.ok(
        r.json<{ errors: { path: string }[] }>().errors.some((e) => e.path === path),
        r.body,
      );
    };
    await bad('/notifications', '/query/booking_id');
    await bad('/notifications?booking_id=x&limit=0', '/query/limit');
    await bad('/notifications?booking_id=x&limit=501', '/query/limit');
    await bad('/notifications?booking_id=x&colour=blue', '/query/colour');
    await bad(`/notifications?booking_id=${'x'.repeat(129)}`, '/query/booking_id');
    await bad('/notifications?booking_id=%00', '/query/booking_id');
    const empty = await rt.http.inject({ method: 'GET', url: '/notifications?guest_id=nobody&limit=500' });
    assert.deepEqual(empty.json(), { notifications: [] });

    const b = booking(300);
    await publish(b.reserved);
    await waitFor(async () => (await rt.db.query('SELECT 1 FROM guest_contacts WHERE email IS NOT NULL')).rowCount === 1);
    const del = await rt.http.inject({ method: 'DELETE', url: `/contacts/${b.reserved.payload.guest.guest_id}` });
    assert.equal(del.statusCode, 200, del.body);
    assert.equal(del.json<{ contact_erased: boolean }>().contact_erased, true);
    assert.equal((await rt.db.query('SELECT 1 FROM guest_contacts WHERE email IS NOT NULL')).rowCount, 0);
    const again = await rt.http.inject({ method: 'DELETE', url: `/contacts/${b.reserved.payload.guest.guest_id}` });
    assert.equal(again.json<{ contact_erased: boolean }>().contact_erased, false);
    const openapi = await rt.http.inject({ method: 'GET', url: '/openapi.json' });
    assert.match(openapi.body, /\/contacts\/\{guest_id\}/);
    assert.match(openapi.body, /\/notifications/);
  });
});
