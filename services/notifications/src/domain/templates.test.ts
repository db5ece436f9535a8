import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { REASON_CODES } from '@albergue/documents';
import { LOCALES, maskEmail, mayRemember, redactEmails, templateLocale } from './contact.js';
import type { Trigger } from './notification.js';
import { decide, evolve, NO_NOTIFICATION, planNotification } from './notification.js';
import type { BookingFacts, TemplateName, TemplateVars } from './templates.js';
import { DOCUMENT_REASONS, escapeHtml, formatDate, formatMoney, render, TEMPLATE_NAMES, TEMPLATES } from './templates.js';

const booking: BookingFacts = {
  booking_id: 'bk-1',
  albergue_id: 'roncesvalles-colegiata',
  check_in: '2026-12-20',
  check_out: '2026-12-22',
  beds: 2,
  total: { amount_minor: 123456, currency: 'EUR' },
};

const SAMPLE: { readonly [T in TemplateName]: TemplateVars[T] } = {
  booking_confirmed: { booking },
  reservation_expired: { booking, hold_expires_at: '2026-12-02T09:15:00.000Z' },
  booking_cancelled: { booking, reason: 'guest_request' },
  payment_failed: { booking, reason_code: 'card_declined' },
  payment_refunded: { booking, amount: { amount_minor: 2400, currency: 'EUR' }, reason: 'booking_expired' },
  document_validated: { document_type: 'dni', document_number_masked: '*****678Z', expires_on: '2030-01-31', booking_id: 'bk-1' },
  document_rejected: {
    document_type: 'passport',
    reasons: ['document_expired', 'mrz_check_digit_expiry', 'some_new_code'],
    booking_id: 'bk-1',
  },
};

describe('templates', () => {
  test('every template exists in every language and renders subject, text and HTML', () => {
    assert.deepEqual(Object.keys(TEMPLATES).sort(), [...TEMPLATE_NAMES].sort());
    for (const name of TEMPLATE_NAMES) {
      assert.deepEqual(Object.keys(TEMPLATES[name]).sort(), [...LOCALES].sort(), `${name} languages`);
      const subjects = new Set<string>();
      for (const locale of LOCALES) {
        const m = render(name, locale, 'Ana Peregrina', SAMPLE[name] as never);
        assert.ok(m.subject.length > 0 && !/[\r\n]/.test(m.subject), `${name}/${locale} subject`);
        assert.match(m.text, /Ana Peregrina/);
        assert.match(m.html, new RegExp(`<html lang="${locale}">`));
        assert.doesNotMatch(m.text, /undefined|\[object Object\]|NaN/, `${name}/${locale}: ${m.text}`);
        subjects.add(m.subject);
      }
      assert.equal(subjects.size, LOCALES.length, `${name}: one subject per language`);
    }
  });

  test("booking messages carry the booking's details in the guest's language", () => {
    const es = render('booking_confirmed', 'es', 'Ana', { booking });
    assert.match(es.subject, /Reserva confirmada: roncesvalles-colegiata/);
    for (const s of ['Reserva: bk-1', 'del 20/12/2026 al 22/12/2026', 'Camas: 2', 'Total: 1.234,56 €']) assert.ok(es.text.includes(s), s);
    const en = render('booking_confirmed', 'en', 'Ana', { booking });
    for (const s of ['Booking: bk-1', '20 Dec 2026 to 22 Dec 2026', 'Beds: 2', 'Total: €1,234.56']) assert.ok(en.text.includes(s), s);
    // Without BookingReserved's facts the message still names the booking and albergue.
    const bare = render('reservation_expired', 'en', 'Ana', {
      booking: { booking_id: 'bk-2', albergue_id: 'alb' },
      hold_expires_at: '2026-12-02T09:15:00.000Z',
    });
    assert.match(bare.text, /Booking: bk-2/);
    assert.match(bare.text, /2026-12-02 09:15 UTC/);
    assert.doesNotMatch(bare.text, /Beds|Total|Dates/);
  });

  test('document messages show the masked number and every reason (unknown codes as they are)', () => {
    const ok = render('document_validated', 'es', 'Ana', SAMPLE.document_validated);
    assert.match(ok.text, /\*\*\*\*\*678Z/);
    assert.match(ok.text, /31\/01\/2030/);
    const no = render('document_rejected', 'en', 'Ana', SAMPLE.document_rejected);
    assert.ok(no.text.includes(`- ${DOCUMENT_REASONS.en.document_expired!} (document_expired)`));
    assert.ok(no.text.includes(`- ${DOCUMENT_REASONS.en.mrz_check_digit_expiry!} (mrz_check_digit_expiry)`));
    assert.match(no.text, /- some_new_code \(some_new_code\)/);
    for (const locale of LOCALES) assert.deepEqual(Object.keys(DOCUMENT_REASONS[locale]).sort(), Object.keys(DOCUMENT_REASONS.es).sort());
  });

  test("every reason code documents' rules answer is described in every language, and no other", () => {
    // Fails when documents adds a code (REASON_CODES) that the rejection message cannot put in words.
    for (const locale of LOCALES) {
      assert.deepEqual(
        Object.keys(DOCUMENT_REASONS[locale]).sort(),
        [...REASON_CODES].sort(),
        `${locale}: DOCUMENT_REASONS vs REASON_CODES`,
      );
      const texts = new Set<string>();
      for (const code of REASON_CODES) {
        const words = DOCUMENT_REASONS[locale][code] ?? '';
        assert.ok(words.trim().length > 0 && !words.includes(code), `${locale}/${code} has words of its own`);
        texts.add(words);
        const m = render('document_rejected', locale, 'Ana', { document_type: 'dni', reasons: [code] });
        assert.ok(m.text.includes(`- ${words} (${code})`), `${locale}/${code} rendered: ${m.text}`);
      }
      assert.equal(texts.size, REASON_CODES.length, `${locale}: one distinct text per code`);
    }
  });

  test('hostile values: HTML is escaped, a subject stays one line', () => {
    const name = '<script>alert("x")</script> & Co';
    const m = render('booking_confirmed', 'en', name, { booking: { ...booking, albergue_id: 'evil\r\nBcc: x@y.z' } });
    assert.doesNotMatch(m.html, /<script>/);
    assert.match(m.html, /&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt; &amp; Co/);
    assert.doesNotMatch(m.subject, /[\r\n]/);
    assert.equal(escapeHtml(`'"<>&`), '&#39;&quot;&lt;&gt;&amp;');
  });

  test('money and dates by hand', () => {
    assert.equal(formatMoney({ amount_minor: 0, currency: 'EUR' }, 'es'), '0,00 €');
    assert.equal(formatMoney({ amount_minor: 105, currency: 'USD' }, 'en'), 'USD 1.05');
    assert.equal(formatMoney({ amount_minor: 100000000, currency: 'EUR' }, 'en'), '€1,000,000.00');
    assert.equal(formatDate('2026-02-03', 'en'), '3 Feb 2026');
    assert.equal(formatDate('not a date', 'es'), 'not a date');
  });
});

describe('contacts', () => {
  test('locale fallback: the primary language when there are templates in it, else en', () => {
    const cases: [string | undefined, string][] = [
      ['es', 'es'],
      ['es-ES', 'es'],
      ['es-AR', 'es'],
      ['ES', 'es'],
      ['en-GB', 'en'],
      ['fr', 'en'],
      ['pt-BR', 'en'],
      ['', 'en'],
      [undefined, 'en'],
      ['e', 'en'],
    ];
    for (const [locale, expected] of cases) assert.equal(templateLocale(locale), expected, String(locale));
  });

  test('masking keeps the first character and the domain only', () => {
    assert.equal(maskEmail('ana.peregrina@Example.org'), 'a***@example.org');
    assert.equal(maskEmail('x@y.z'), 'x***@y.z');
    assert.equal(maskEmail('ñandú@correo.es'), 'ñ***@correo.es');
    assert.equal(maskEmail('not-an-address'), '***');
    assert.equal(maskEmail('@nobody'), '***');
    assert.equal(maskEmail('trailing@'), '***');
    assert.ok(maskEmail(`a@${'d'.repeat(400)}`).length <= 320);
  });

  test('SMTP replies lose the addresses they echo', () => {
    assert.equal(
      redactEmails('550 5.1.1 <Ana.Peregrina@example.org>: Recipient address rejected; also bob@x.es, "c@d.e"'),
      '550 5.1.1 <A***@example.org>: Recipient address rejected; also b***@x.es, "c***@d.e"',
    );
    assert.equal(redactEmails('451 try again later'), '451 try again later');
  });

  test('remembering: a newer contact wins; a forgotten guest stays forgotten for older events', () => {
    assert.equal(mayRemember(undefined, '2026-01-01T00:00:00.000Z'), 'remember');
    assert.equal(mayRemember({ as_of: '2026-01-02T00:00:00.000Z' }, '2026-01-01T00:00:00.000Z'), 'stale');
    assert.equal(mayRemember({ as_of: '2026-01-01T00:00:00.000Z' }, '2026-01-02T00:00:00.000Z'), 'remember');
    const forgotten = { as_of: '2026-01-03T00:00:00.000Z', forgotten_at: '2026-01-03T00:00:00.000Z' };
    assert.equal(mayRemember(forgotten, '2026-01-02T00:00:00.000Z'), 'forgotten');
    assert.equal(mayRemember(forgotten, '2026-01-04T00:00:00.000Z'), 'remember', 'a new booking after the request brings a new contact');
  });
});

describe('which message an event asks for', () => {
  const b = { booking_id: 'bk-1', albergue_id: 'alb' };
  const plan = (t: Trigger) => planNotification(t, booking);
  test('one message per flow outcome; the event that repeats it is silent', () => {
    const template = (t: Trigger) => {
      const p = plan(t);
      return p.kind === 'message' ? p.message.template : `silent:${p.reason.code}`;
    };
    assert.equal(template({ type: 'BookingConfirmed', data: { ...b, payment_id: 'p', confirmed_at: 'x' } }), 'booking_confirmed');
    assert.equal(
      template({
        type: 'PaymentConfirmed',
        data: { booking_id: 'bk-1', payment_id: 'p', amount: booking.total!, provider_reference: 'r', confirmed_at: 'x' },
      }),
      'silent:told_by_booking_confirmed',
    );
    assert.equal(
      template({
        type: 'PaymentFailed',
        data: { booking_id: 'bk-1', payment_id: 'p', reason_code: 'card_declined', reason: 'x', failed_at: 'x' },
      }),
      'payment_failed',
    );
    assert.equal(
      template({ type: 'BookingCancelled', data: { ...b, reason: 'payment_failed', cancelled_at: 'x' } }),
      'silent:told_by_payment_failed',
    );
    assert.equal(template({ type: 'BookingCancelled', data: { ...b, reason: 'admin', cancelled_at: 'x' } }), 'booking_cancelled');
    assert.equal(template({ type: 'ReservationExpired', data: { ...b, hold_expires_at: 'x', expired_at: 'x' } }), 'reservation_expired');
    const refunded = plan({
      type: 'PaymentRefunded',
      data: {
        booking_id: 'bk-1',
        payment_id: 'p',
        amount: 2400,
        currency: 'EUR',
        reason: 'booking_expired',
        provider_reference: 'r',
        refund_reference: 'f',
        refunded_at: 'x',
      },
    });
    assert.ok(refunded.kind === 'message' && refunded.message.template === 'payment_refunded');
    assert.deepEqual(refunded.message.vars, { booking, amount: { amount_minor: 2400, currency: 'EUR' }, reason: 'booking_expired' });
  });

  test("a booking's facts are used only for that booking", () => {
    const p = planNotification(
      { type: 'BookingConfirmed', data: { booking_id: 'other', albergue_id: 'alb-2', payment_id: 'p', confirmed_at: 'x' } },
      booking,
    );
    assert.ok(p.kind === 'message' && p.message.template === 'booking_confirmed');
    assert.deepEqual(p.message.vars, { booking: { booking_id: 'other', albergue_id: 'alb-2' } });
  });

  test('the decider records a notification once: the first outcome stands', () => {
    const sent = decide(
      {
        type: 'RecordSent',
        data: { notification_id: 'n', channel: 'email', template: 't', recipient_masked: 'a***@b.c', related_event_id: 'e', sent_at: 'x' },
      },
      NO_NOTIFICATION,
    );
    assert.ok(sent.ok && sent.events.length === 1 && sent.events[0]!.type === 'NotificationSent');
    const after = sent.events.reduce(evolve, NO_NOTIFICATION);
    assert.equal(after.status, 'sent');
    const again = decide(
      {
        type: 'RecordFailed',
        data: { notification_id: 'n', channel: 'email', template: 't', related_event_id: 'e', error: 'x'.repeat(5000), failed_at: 'x' },
      },
      after,
    );
    assert.ok(again.ok && again.events.length === 0 && again.ignored?.code === 'already_recorded');
    const failed = decide(
      {
        type: 'RecordFailed',
        data: { notification_id: 'n', channel: 'email', template: 't', related_event_id: 'e', error: 'x'.repeat(5000), failed_at: 'x' },
      },
      NO_NOTIFICATION,
    );
    assert.ok(failed.ok && failed.events[0]!.type === 'NotificationFailed' && failed.events[0]!.data.error.length === 1000);
  });
});
