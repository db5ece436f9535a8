// The messages guests get, one template per kind, each in every language of LOCALES, as typed
// modules: a template missing in a language does not compile (and templates.test.ts renders every
// one in every language). Pure: money and dates are formatted by hand (no Intl in the domain).
import type { TemplateLocale } from './contact.js';

/** What a booking message can say about the booking (what BookingReserved told us, when it did). */
export interface BookingFacts {
  readonly booking_id: string;
  readonly albergue_id: string;
  readonly check_in?: string | undefined;
  readonly check_out?: string | undefined;
  readonly beds?: number | undefined;
  readonly total?: { readonly amount_minor: number; readonly currency: string } | undefined;
}

/** The variables of each template. */
export interface TemplateVars {
  readonly booking_confirmed: { readonly booking: BookingFacts };
  readonly reservation_expired: { readonly booking: BookingFacts; readonly hold_expires_at: string };
  readonly booking_cancelled: { readonly booking: BookingFacts; readonly reason: string };
  readonly payment_failed: { readonly booking: BookingFacts; readonly reason_code: string };
  readonly payment_refunded: {
    readonly booking: BookingFacts;
    readonly amount: { readonly amount_minor: number; readonly currency: string };
    readonly reason: string;
  };
  readonly document_validated: {
    readonly document_type: string;
    readonly document_number_masked: string;
    readonly expires_on: string;
    readonly booking_id?: string | undefined;
  };
  readonly document_rejected: {
    readonly document_type: string;
    readonly reasons: readonly string[];
    readonly booking_id?: string | undefined;
  };
}

export type TemplateName = keyof TemplateVars;
export const TEMPLATE_NAMES: readonly TemplateName[] = [
  'booking_confirmed',
  'reservation_expired',
  'booking_cancelled',
  'payment_failed',
  'payment_refunded',
  'document_validated',
  'document_rejected',
];

/** A rendered message: subject, plain text and simple HTML. */
export interface RenderedMessage {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

/** A template body as lines: the text joins them, the HTML makes a paragraph of each (escaped). */
interface Draft {
  readonly subject: string;
  readonly greeting: string;
  readonly lines: readonly string[];
  readonly closing: string;
}

type Writer<V> = (name: string, v: V) => Draft;
type Templates = { readonly [T in TemplateName]: { readonly [L in TemplateLocale]: Writer<TemplateVars[T]> } };

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** 1234 EUR → "12,34 €" (es) or "€12.34" (en); other currencies by their code. */
export function formatMoney(m: { readonly amount_minor: number; readonly currency: string }, locale: TemplateLocale): string {
  const whole = Math.floor(m.amount_minor / 100);
  const cents = pad2(m.amount_minor % 100);
  if (locale === 'es') {
    const digits = String(whole).replace(/\B(?=(\d{3})+(?!\d))/g, '.');
    return m.currency === 'EUR' ? `${digits},${cents} €` : `${digits},${cents} ${m.currency}`;
  }
  const digits = String(whole).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return m.currency === 'EUR' ? `€${digits}.${cents}` : `${m.currency} ${digits}.${cents}`;
}

/** 2026-12-20 → "20/12/2026" (es) or "20 Dec 2026" (en). Anything else is shown as it is. */
export function formatDate(date: string, locale: TemplateLocale): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(date);
  if (!m) return date;
  const [, y, mo, d] = m as unknown as [string, string, string, string];
  if (locale === 'es') return `${d}/${mo}/${y}`;
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  return `${Number(d)} ${months[Number(mo) - 1] ?? mo} ${y}`;
}

/** An ISO instant as "2026-12-02 09:15 UTC" (both languages). */
function formatInstant(instant: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/.exec(instant);
  return m ? `${m[1]} ${m[2]} UTC` : instant;
}

const DOCUMENT_TYPES: { readonly [L in TemplateLocale]: Readonly<Record<string, string>> } = {
  es: { dni: 'DNI', nie: 'NIE', passport: 'pasaporte' },
  en: { dni: 'DNI (Spanish ID card)', nie: 'NIE (foreigner identity number)', passport: 'passport' },
};

/**
 * Reason codes of DocumentRejected in words, one for each code documents' rules answer (its
 * `REASON_CODES`; templates.test.ts fails when documents adds one this list does not describe). An
 * unknown code (a newer documents than this service) is still shown, as it is.
 */
export const DOCUMENT_REASONS: { readonly [L in TemplateLocale]: Readonly<Record<string, string>> } = {
  es: {
    number_format_invalid: 'el número no tiene el formato de ese documento',
    dni_check_letter_mismatch: 'la letra del DNI no corresponde al número',
    nie_check_letter_mismatch: 'la letra del NIE no corresponde al número',
    passport_format_invalid: 'el número de pasaporte no tiene el formato del país emisor',
    country_not_allowed_for_type: 'un DNI o un NIE solo puede estar expedido por España',
    birth_date_invalid: 'la fecha de nacimiento no es una fecha válida',
    expiry_date_invalid: 'la fecha de caducidad no es una fecha válida',
    birth_date_in_future: 'la fecha de nacimiento es posterior a hoy',
    birth_date_implausible: 'la fecha de nacimiento no es verosímil',
    minor_without_guardian: 'los menores de 14 años necesitan la referencia de un tutor',
    expiry_before_birth: 'la fecha de caducidad es anterior a la de nacimiento',
    document_expired: 'el documento está caducado',
    mrz_malformed: 'la zona de lectura mecánica (MRZ) no se puede leer',
    mrz_check_digit_document_number: 'el dígito de control del número en la MRZ no coincide',
    mrz_check_digit_birth_date: 'el dígito de control de la fecha de nacimiento en la MRZ no coincide',
    mrz_check_digit_expiry: 'el dígito de control de la fecha de caducidad en la MRZ no coincide',
    mrz_check_digit_optional_data: 'el dígito de control de los datos opcionales de la MRZ no coincide',
    mrz_check_digit_composite: 'el dígito de control global de la MRZ no coincide',
    mrz_mismatch_document_type: 'la MRZ no corresponde a ese tipo de documento',
    mrz_mismatch_number: 'el número enviado no figura en la MRZ',
    mrz_mismatch_birth_date: 'la fecha de nacimiento de la MRZ no coincide con la enviada',
    mrz_mismatch_expiry: 'la fecha de caducidad de la MRZ no coincide con la enviada',
    mrz_mismatch_country: 'el país emisor de la MRZ no coincide con el enviado',
  },
  en: {
    number_format_invalid: 'the number does not have the format of that document',
    dni_check_letter_mismatch: 'the letter of the DNI does not match its number',
    nie_check_letter_mismatch: 'the letter of the NIE does not match its number',
    passport_format_invalid: "the passport number does not have the issuing country's format",
    country_not_allowed_for_type: 'a DNI or NIE can only be issued by Spain',
    birth_date_invalid: 'the date of birth is not a valid date',
    expiry_date_invalid: 'the expiry date is not a valid date',
    birth_date_in_future: 'the date of birth is after today',
    birth_date_implausible: 'the date of birth is not plausible',
    minor_without_guardian: 'guests under 14 need a guardian reference',
    expiry_before_birth: 'the expiry date is before the date of birth',
    document_expired: 'the document has expired',
    mrz_malformed: 'the machine-readable zone (MRZ) cannot be read',
    mrz_check_digit_document_number: 'the check digit of the number in the MRZ does not match',
    mrz_check_digit_birth_date: 'the check digit of the date of birth in the MRZ does not match',
    mrz_check_digit_expiry: 'the check digit of the expiry date in the MRZ does not match',
    mrz_check_digit_optional_data: 'the check digit of the optional data in the MRZ does not match',
    mrz_check_digit_composite: 'the overall check digit of the MRZ does not match',
    mrz_mismatch_document_type: 'the MRZ is not one of that type of document',
    mrz_mismatch_number: 'the submitted number is not in the MRZ',
    mrz_mismatch_birth_date: 'the date of birth in the MRZ is not the one submitted',
    mrz_mismatch_expiry: 'the expiry date in the MRZ is not the one submitted',
    mrz_mismatch_country: 'the issuing country in the MRZ is not the one submitted',
  },
};

const PAYMENT_REASONS: { readonly [L in TemplateLocale]: Readonly<Record<string, string>> } = {
  es: { card_declined: 'el banco rechazó la tarjeta', insufficient_funds: 'la tarjeta no tiene saldo suficiente' },
  en: { card_declined: 'the bank declined the card', insufficient_funds: 'the card has insufficient funds' },
};

const CANCEL_REASONS: { readonly [L in TemplateLocale]: Readonly<Record<string, string>> } = {
  es: { guest_request: 'a petición tuya', admin: 'por decisión del albergue', payment_failed: 'porque el pago no se completó' },
  en: { guest_request: 'at your request', admin: 'by the albergue', payment_failed: 'because the payment did not go through' },
};

const REFUND_REASONS: { readonly [L in TemplateLocale]: Readonly<Record<string, string>> } = {
  es: {
    booking_cancelled: 'la reserva se canceló',
    booking_expired: 'la reserva caducó antes de completarse el pago',
    settled_after_failure: 'el cobro llegó después de que el pago fallara',
    settled_after_void: 'el cobro llegó después de anular el pago',
    duplicate_charge: 'se cobró dos veces',
  },
  en: {
    booking_cancelled: 'the booking was cancelled',
    booking_expired: 'the booking expired before the payment completed',
    settled_after_failure: 'the charge arrived after the payment had failed',
    settled_after_void: 'the charge arrived after the payment was voided',
    duplicate_charge: 'you were charged twice',
  },
};

const words = (table: Readonly<Record<string, string>>, code: string): string => table[code] ?? code;

function bookingLines(b: BookingFacts, locale: TemplateLocale): string[] {
  const es = locale === 'es';
  const lines = [es ? `Reserva: ${b.booking_id}` : `Booking: ${b.booking_id}`, `Albergue: ${b.albergue_id}`];
  if (b.check_in && b.check_out)
    lines.push(
      es
        ? `Fechas: del ${formatDate(b.check_in, locale)} al ${formatDate(b.check_out, locale)}`
        : `Dates: ${formatDate(b.check_in, locale)} to ${formatDate(b.check_out, locale)}`,
    );
  if (b.beds !== undefined) lines.push(es ? `Camas: ${b.beds}` : `Beds: ${b.beds}`);
  if (b.total) lines.push(`Total: ${formatMoney(b.total, locale)}`);
  return lines;
}

const ES_CLOSING = '¡Buen Camino!\nAlbergue';
const EN_CLOSING = 'Buen Camino!\nAlbergue';

export const TEMPLATES: Templates = {
  booking_confirmed: {
    es: (name, v) => ({
      subject: `Reserva confirmada: ${v.booking.albergue_id}`,
      greeting: `Hola, ${name}:`,
      lines: ['Hemos recibido el pago y tu cama está confirmada.', ...bookingLines(v.booking, 'es')],
      closing: ES_CLOSING,
    }),
    en: (name, v) => ({
      subject: `Booking confirmed: ${v.booking.albergue_id}`,
      greeting: `Hello ${name},`,
      lines: ['We received your payment and your bed is confirmed.', ...bookingLines(v.booking, 'en')],
      closing: EN_CLOSING,
    }),
  },
  reservation_expired: {
    es: (name, v) => ({
      subject: `Tu reserva ha caducado: ${v.booking.albergue_id}`,
      greeting: `Hola, ${name}:`,
      lines: [
        `No recibimos el pago antes de ${formatInstant(v.hold_expires_at)} y las camas se han liberado.`,
        ...bookingLines(v.booking, 'es'),
        'Puedes hacer una nueva reserva cuando quieras.',
      ],
      closing: ES_CLOSING,
    }),
    en: (name, v) => ({
      subject: `Your reservation expired: ${v.booking.albergue_id}`,
      greeting: `Hello ${name},`,
      lines: [
        `We did not receive the payment before ${formatInstant(v.hold_expires_at)}, so the beds were released.`,
        ...bookingLines(v.booking, 'en'),
        'You are welcome to book again.',
      ],
      closing: EN_CLOSING,
    }),
  },
  booking_cancelled: {
    es: (name, v) => ({
      subject: `Reserva cancelada: ${v.booking.albergue_id}`,
      greeting: `Hola, ${name}:`,
      lines: [`Tu reserva se ha cancelado ${words(CANCEL_REASONS.es, v.reason)}.`, ...bookingLines(v.booking, 'es')],
      closing: ES_CLOSING,
    }),
    en: (name, v) => ({
      subject: `Booking cancelled: ${v.booking.albergue_id}`,
      greeting: `Hello ${name},`,
      lines: [`Your booking was cancelled ${words(CANCEL_REASONS.en, v.reason)}.`, ...bookingLines(v.booking, 'en')],
      closing: EN_CLOSING,
    }),
  },
  payment_failed: {
    es: (name, v) => ({
      subject: `No pudimos cobrar tu reserva: ${v.booking.albergue_id}`,
      greeting: `Hola, ${name}:`,
      lines: [
        `El pago no se completó: ${words(PAYMENT_REASONS.es, v.reason_code)}. La reserva se cancela y las camas se liberan.`,
        ...bookingLines(v.booking, 'es'),
        'Puedes reservar de nuevo con otra tarjeta.',
      ],
      closing: ES_CLOSING,
    }),
    en: (name, v) => ({
      subject: `We could not take your payment: ${v.booking.albergue_id}`,
      greeting: `Hello ${name},`,
      lines: [
        `The payment did not go through: ${words(PAYMENT_REASONS.en, v.reason_code)}. The booking is cancelled and the beds released.`,
        ...bookingLines(v.booking, 'en'),
        'You can book again with another card.',
      ],
      closing: EN_CLOSING,
    }),
  },
  payment_refunded: {
    es: (name, v) => ({
      subject: `Te hemos devuelto ${formatMoney(v.amount, 'es')}`,
      greeting: `Hola, ${name}:`,
      lines: [
        `Hemos devuelto ${formatMoney(v.amount, 'es')} a tu tarjeta porque ${words(REFUND_REASONS.es, v.reason)}.`,
        ...bookingLines(v.booking, 'es'),
      ],
      closing: ES_CLOSING,
    }),
    en: (name, v) => ({
      subject: `We refunded ${formatMoney(v.amount, 'en')}`,
      greeting: `Hello ${name},`,
      lines: [
        `We refunded ${formatMoney(v.amount, 'en')} to your card because ${words(REFUND_REASONS.en, v.reason)}.`,
        ...bookingLines(v.booking, 'en'),
      ],
      closing: EN_CLOSING,
    }),
  },
  document_validated: {
    es: (name, v) => ({
      subject: 'Documento aceptado',
      greeting: `Hola, ${name}:`,
      lines: [
        `Hemos aceptado tu ${words(DOCUMENT_TYPES.es, v.document_type)} ${v.document_number_masked} (válido hasta el ${formatDate(v.expires_on, 'es')}).`,
        ...(v.booking_id ? [`Reserva: ${v.booking_id}`] : []),
      ],
      closing: ES_CLOSING,
    }),
    en: (name, v) => ({
      subject: 'Document accepted',
      greeting: `Hello ${name},`,
      lines: [
        `We accepted your ${words(DOCUMENT_TYPES.en, v.document_type)} ${v.document_number_masked} (valid until ${formatDate(v.expires_on, 'en')}).`,
        ...(v.booking_id ? [`Booking: ${v.booking_id}`] : []),
      ],
      closing: EN_CLOSING,
    }),
  },
  document_rejected: {
    es: (name, v) => ({
      subject: 'Tu documento necesita una corrección',
      greeting: `Hola, ${name}:`,
      lines: [
        `No hemos podido aceptar tu ${words(DOCUMENT_TYPES.es, v.document_type)}:`,
        ...v.reasons.map((r) => `- ${words(DOCUMENT_REASONS.es, r)} (${r})`),
        ...(v.booking_id ? [`Reserva: ${v.booking_id}`] : []),
        'Revisa los datos y envíalo de nuevo.',
      ],
      closing: ES_CLOSING,
    }),
    en: (name, v) => ({
      subject: 'Your document needs a correction',
      greeting: `Hello ${name},`,
      lines: [
        `We could not accept your ${words(DOCUMENT_TYPES.en, v.document_type)}:`,
        ...v.reasons.map((r) => `- ${words(DOCUMENT_REASONS.en, r)} (${r})`),
        ...(v.booking_id ? [`Booking: ${v.booking_id}`] : []),
        'Please check the details and submit it again.',
      ],
      closing: EN_CLOSING,
    }),
  },
};

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);

/** Renders `template` in `locale` for a guest called `name`: subject, text and HTML (every value escaped). */
export function render<T extends TemplateName>(template: T, locale: TemplateLocale, name: string, vars: TemplateVars[T]): RenderedMessage {
  const writer = TEMPLATES[template][locale];
  const d = writer(name, vars);
  // Header injection: a subject is one line.
  const subject = d.subject.replace(/[\r\n]+/g, ' ').slice(0, 200);
  const text = [d.greeting, '', ...d.lines, '', d.closing, ''].join('\n');
  const paragraph = (s: string) => `<p>${escapeHtml(s).replace(/\n/g, '<br>')}</p>`;
  const html = [
    `<!doctype html><html lang="${locale}"><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head><body>`,
    paragraph(d.greeting),
    ...d.lines.map(paragraph),
    paragraph(d.closing),
    '</body></html>',
  ].join('\n');
  return { subject, text, html };
}
