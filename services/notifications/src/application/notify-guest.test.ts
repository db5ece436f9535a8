// The handlers on the Postgres adapter — real Postgres (start:services) and PGlite (npm start) — with a
// mailer that records what it sends.
import { strict as assert } from 'node:assert';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { EnvelopeOf, EventEnvelope } from '@albergue/events';
import {
  BookingConfirmed,
  BookingReserved,
  DocumentRejected,
  DocumentValidated,
  newEnvelope,
  PaymentConfirmed,
  ReservationExpired,
  withCorrelation,
} from '@albergue/events';
import { migrate, OUTBOX_MIGRATIONS } from '@albergue/outbox';
import type { SqlDatabase } from '@albergue/outbox';
import type { TestDatabase } from '@albergue/outbox/test-databases';
import { openTestPglite, openTestPostgres } from '@albergue/outbox/test-databases';
import { uniqueName } from '@albergue/platform/testing';
import { NOTIFICATIONS_MIGRATIONS } from '../adapters/postgres/migrations.js';
import { PgNotificationStore } from '../adapters/postgres/pg-notification-store.js';
import { forgetContact } from './forget-contact.js';
import { ContactNotKnownYetError, notificationIdOf, notifyGuest } from './notify-guest.js';
import type { Mailer, OutgoingMail } from './ports.js';
import { MailRejectedError } from './ports.js';
import { rememberContactOnBookingReserved } from './remember-contact.js';

class RecordingMailer implements Mailer {
  readonly sent: OutgoingMail[] = [];
  failWith: Error | undefined;
  send(mail: OutgoingMail): Promise<{ response: string }> {
    if (this.failWith) return Promise.reject(this.failWith);
    this.sent.push(mail);
    return Promise.resolve({ response: '250 OK: queued' });
  }
}

const clock = { now: () => new Date('2026-12-02T10:00:00.000Z') };

function reserved(o: { guest?: string; email?: string; locale?: string; occurred_at?: string } = {}) {
  const booking_id = uniqueName('bk');
  return newEnvelope(
    BookingReserved,
    {
      booking_id,
      albergue_id: 'roncesvalles-colegiata',
      guest: {
        guest_id: o.guest ?? uniqueName('g'),
        name: 'Ana Peregrina',
        email: o.email ?? 'ana.peregrina@example.org',
        locale: o.locale ?? 'es-ES',
      },
      check_in: '2026-12-20',
      check_out: '2026-12-22',
      beds: 2,
      total: { amount_minor: 4800, currency: 'EUR' },
      hold_expires_at: '2026-12-02T10:15:00.000Z',
    },
    o.occurred_at ? { occurred_at: o.occurred_at } : {},
  );
}

const confirmed = (r: EnvelopeOf<typeof BookingReserved>) =>
  newEnvelope(
    BookingConfirmed,
    { booking_id: r.payload.booking_id, albergue_id: r.payload.albergue_id, payment_id: 'pay-1', confirmed_at: '2026-12-02T10:01:00.000Z' },
    withCorrelation(r),
  );

for (const [engine, open] of [
  ['Postgres', openTestPostgres],
  ['PGlite', openTestPglite],
] as const)
  describe(`notifications handlers on ${engine}`, () => {
    let t: TestDatabase;
    let db: SqlDatabase;
    let store: PgNotificationStore;
    let mailer: RecordingMailer;

    before(async () => {
      t = await open('notifications_app');
      db = t.db;
      await migrate(db, [...OUTBOX_MIGRATIONS, ...NOTIFICATIONS_MIGRATIONS]);
      store = new PgNotificationStore(db);
    });
    after(async () => t?.dispose());
    beforeEach(() => {
      mailer = new RecordingMailer();
    });

    const remember = (e: EnvelopeOf<typeof BookingReserved>) =>
      db.transaction((tx) => rememberContactOnBookingReserved({}, store.forTransaction(tx), e));
    const notify = (e: EventEnvelope, attempt = 1, maxAttempts = 8) =>
      db.transaction((tx) => notifyGuest({ clock, mailer }, store.forTransaction(tx), e, { attempt, maxAttempts }));
    const outboxOf = async (type: string) =>
      (
        await db.query<{ payload: EventEnvelope }>(`SELECT envelope AS payload FROM outbox_events WHERE topic LIKE $1`, [`%.${type}`])
      ).rows.map((r) => r.payload);

    test("BookingConfirmed → one mail in the guest's language with the booking's details; NotificationSent, masked, in the flow", async () => {
      const r = reserved({ locale: 'es-ES' });
      assert.equal(await remember(r), 'remembered');
      const c = confirmed(r);
      const outcome = await notify(c);
      assert.equal(outcome.status, 'applied');
      assert.equal(mailer.sent.length, 1);
      const mail = mailer.sent[0]!;
      const id = notificationIdOf(c.event_id, 'booking_confirmed');
      assert.equal(mail.to.address, 'ana.peregrina@example.org');
      assert.equal(mail.language, 'es');
      assert.equal(mail.messageId, `<${id}@notifications.albergue.local>`);
      assert.equal(mail.headers['X-Albergue-Notification-Id'], id);
      assert.equal(mail.headers['X-Albergue-Event-Id'], c.event_id);
      assert.match(mail.subject, /Reserva confirmada/);
      for (const s of [r.payload.booking_id, 'roncesvalles-colegiata', '20/12/2026', 'Camas: 2', '48,00 €'])
        assert.ok(mail.text.includes(s), s);

      const sent = (await outboxOf('NotificationSent')).find((e) => (e.payload as { notification_id: string }).notification_id === id)!;
      assert.equal((sent.payload as { recipient_masked: string }).recipient_masked, 'a***@example.org');
      assert.equal(sent.correlation_id, r.correlation_id);
      assert.equal(sent.causation_id, c.event_id);

      const [row] = await store.list({ booking_id: r.payload.booking_id, limit: 10 });
      assert.equal(row!.status, 'sent');
      assert.equal(row!.locale, 'es');
      assert.equal(row!.guest_id, r.payload.guest.guest_id);
      assert.equal(row!.related_event_type, 'BookingConfirmed');
      assert.deepEqual(
        (await store.list({ guest_id: r.payload.guest.guest_id, limit: 10 })).map((n) => n.notification_id),
        [id],
      );

      // The same event handled again (the inbox lost, say): nothing sent twice.
      const again = await notify(c);
      assert.equal(again.status, 'ignored');
      assert.equal(mailer.sent.length, 1);
    });

    test('the notification id is deterministic per (event, template) and a valid UUID', () => {
      const a = notificationIdOf('0190a000-0000-7000-8000-000000000001', 'booking_confirmed');
      assert.equal(a, notificationIdOf('0190a000-0000-7000-8000-000000000001', 'booking_confirmed'));
      assert.notEqual(a, notificationIdOf('0190a000-0000-7000-8000-000000000001', 'payment_failed'));
      assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    });

    test('contact not known yet: a transient error until the last attempt, then NotificationFailed(no_contact)', async () => {
      const r = reserved();
      const e = newEnvelope(
        ReservationExpired,
        {
          booking_id: r.payload.booking_id,
          albergue_id: 'alb',
          hold_expires_at: '2026-12-02T10:15:00.000Z',
          expired_at: '2026-12-02T10:15:01.000Z',
        },
        withCorrelation(r),
      );
      await assert.rejects(notify(e, 1, 3), ContactNotKnownYetError);
      await assert.rejects(notify(e, 2, 3), ContactNotKnownYetError);
      assert.equal((await store.list({ booking_id: r.payload.booking_id, limit: 10 })).length, 0, 'nothing recorded while retrying');
      // The contact arrives late (events out of order): the next attempt sends.
      await remember(r);
      await notify(e, 3, 3);
      assert.equal(mailer.sent.length, 1);

      const lost = reserved();
      const never = newEnvelope(
        ReservationExpired,
        {
          booking_id: lost.payload.booking_id,
          albergue_id: 'alb',
          hold_expires_at: '2026-12-02T10:15:00.000Z',
          expired_at: '2026-12-02T10:15:01.000Z',
        },
        withCorrelation(lost),
      );
      const outcome = await notify(never, 3, 3);
      assert.equal(outcome.status, 'applied');
      const [row] = await store.list({ booking_id: lost.payload.booking_id, limit: 10 });
      assert.equal(row!.status, 'failed');
      assert.match(row!.detail ?? '', /^no_contact/);
      assert.equal(row!.recipient_masked, undefined);
      const failed = (await outboxOf('NotificationFailed')).find((x) => x.causation_id === never.event_id)!;
      assert.match((failed.payload as { error: string }).error, /^no_contact/);
      assert.equal(mailer.sent.length, 1);
    });

    test('documents: found by booking when it names a known one, else by guest; en fallback for an unknown locale', async () => {
      const r = reserved({ locale: 'fr-FR' });
      await remember(r);
      const byBooking = newEnvelope(DocumentValidated, {
        document_id: uniqueName('doc'),
        guest_id: 'someone-else',
        booking_id: r.payload.booking_id,
        document_type: 'dni',
        document_number_masked: '*****678Z',
        issuing_country: 'ESP',
        expires_on: '2030-01-31',
        validated_at: '2026-12-02T10:00:00.000Z',
      });
      await notify(byBooking);
      const byGuest = newEnvelope(DocumentRejected, {
        document_id: uniqueName('doc'),
        guest_id: r.payload.guest.guest_id,
        booking_id: 'unknown-booking',
        document_type: 'passport',
        reasons: ['document_expired', 'mrz_check_digit_expiry'],
        rejected_at: '2026-12-02T10:00:00.000Z',
      });
      await notify(byGuest);
      assert.equal(mailer.sent.length, 2);
      assert.ok(mailer.sent.every((m) => m.to.address === 'ana.peregrina@example.org' && m.language === 'en'));
      assert.match(mailer.sent[0]!.text, /\*\*\*\*\*678Z/);
      assert.match(mailer.sent[1]!.text, /the document has expired/);
      await assert.rejects(
        notify(
          newEnvelope(DocumentRejected, {
            document_id: 'd',
            guest_id: 'nobody',
            document_type: 'dni',
            reasons: ['document_expired'],
            rejected_at: '2026-12-02T10:00:00.000Z',
          }),
        ),
        ContactNotKnownYetError,
      );
    });

    test('SMTP: a transient failure rolls back and the retry sends once; a 5xx refusal is NotificationFailed(smtp_rejected)', async () => {
      const r = reserved();
      await remember(r);
      const c = confirmed(r);
      mailer.failWith = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1025'), { code: 'ESOCKET' });
      await assert.rejects(notify(c), /ECONNREFUSED/);
      assert.equal((await store.list({ booking_id: r.payload.booking_id, limit: 10 })).length, 0);
      mailer.failWith = undefined;
      await notify(c, 2);
      assert.equal(mailer.sent.length, 1);

      const r2 = reserved();
      await remember(r2);
      mailer.failWith = new MailRejectedError('550 mailbox unavailable', 550);
      const outcome = await notify(confirmed(r2));
      assert.equal(outcome.status, 'applied');
      const [row] = await store.list({ booking_id: r2.payload.booking_id, limit: 10 });
      assert.equal(row!.status, 'failed');
      assert.match(row!.detail ?? '', /^smtp_rejected: 550/);
      assert.equal(row!.recipient_masked, 'a***@example.org');
    });

    test('silent events record nothing and send nothing', async () => {
      const r = reserved();
      await remember(r);
      const p = newEnvelope(PaymentConfirmed, {
        payment_id: 'p',
        booking_id: r.payload.booking_id,
        amount: { amount_minor: 4800, currency: 'EUR' },
        provider_reference: 'ref',
        confirmed_at: '2026-12-02T10:00:00.000Z',
      });
      const outcome = await notify(p);
      assert.ok(outcome.status === 'ignored' && outcome.ignored.code === 'told_by_booking_confirmed');
      assert.equal(mailer.sent.length, 0);
      assert.equal((await store.list({ booking_id: r.payload.booking_id, limit: 10 })).length, 0);
    });

    test('contacts: a newer contact is not overwritten by an older event', async () => {
      const guest = uniqueName('g');
      const newer = reserved({ guest, email: 'new@example.org', occurred_at: '2026-12-02T10:00:00.000Z' });
      const older = reserved({ guest, email: 'old@example.org', occurred_at: '2026-12-01T10:00:00.000Z' });
      assert.equal(await remember(newer), 'remembered');
      assert.equal(await remember(older), 'stale');
      await notify(confirmed(older));
      assert.equal(mailer.sent[0]!.to.address, 'new@example.org', 'the newest contact of the guest, whichever booking');
    });

    test('forget: the contact is erased, records keep only masked recipients, later messages fail, an older replay stays forgotten', async () => {
      const r = reserved({ occurred_at: '2026-12-02T09:00:00.000Z', email: 'forget.me@example.org' });
      await remember(r);
      await notify(confirmed(r));
      const forgotten = await forgetContact({ clock, contacts: store }, r.payload.guest.guest_id);
      assert.deepEqual(forgotten, { forgotten: true, forgotten_at: clock.now().toISOString() });
      assert.equal((await forgetContact({ clock, contacts: store }, r.payload.guest.guest_id)).forgotten, false, 'idempotent');

      const dump = JSON.stringify([
        (await db.query('SELECT * FROM guest_contacts')).rows,
        (await db.query('SELECT * FROM notifications')).rows,
        (await db.query('SELECT * FROM outbox_events')).rows,
      ]);
      assert.doesNotMatch(dump, /forget\.me@example\.org/);
      assert.match(dump, /f\*\*\*@example\.org/);

      // A replayed BookingReserved that occurred before the request does not bring the contact back.
      assert.equal(await remember(r), 'forgotten');
      const e = newEnvelope(
        ReservationExpired,
        {
          booking_id: r.payload.booking_id,
          albergue_id: 'alb',
          hold_expires_at: '2026-12-02T10:15:00.000Z',
          expired_at: '2026-12-02T10:15:01.000Z',
        },
        withCorrelation(r),
      );
      await notify(e);
      const rows = await store.list({ booking_id: r.payload.booking_id, limit: 10 });
      assert.deepEqual(
        rows.map((n) => [n.template, n.status, (n.detail ?? '').split(':')[0]]),
        [
          ['booking_confirmed', 'sent', '250 OK'],
          ['reservation_expired', 'failed', 'contact_forgotten'],
        ],
      );
      assert.equal(mailer.sent.length, 1);
      // The guest books again later: a new contact.
      const again = reserved({ guest: r.payload.guest.guest_id, occurred_at: '2026-12-03T09:00:00.000Z' });
      assert.equal(await remember(again), 'remembered');
    });
  });
