import { Type } from '@sinclair/typebox';
import type { TUnsafe } from '@sinclair/typebox';

/** A closed set of strings, emitted as a JSON Schema `enum` (so compatibility checks can compare values). */
export function StringEnum<const T extends readonly string[]>(values: T, options: { description?: string } = {}): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

// Shared payload building blocks: primitive data only, snake_case. The HTTP schemas of the services
// reuse them (through @albergue/application/http), so a value valid in a request is valid in an event.
/** A guest's language: a BCP 47 subset, `es` or `en-GB`. */
export const LOCALE_PATTERN = '^[a-z]{2}(-[A-Z]{2})?$';
/** An ISO 4217 currency code (EUR). */
export const CURRENCY_PATTERN = '^[A-Z]{3}$';
export const Locale = (options: { description?: string; default?: string } = {}) =>
  Type.String({ pattern: LOCALE_PATTERN, description: 'BCP 47 language, e.g. es or en-GB.', ...options });
export const Id = (description: string) => Type.String({ minLength: 1, maxLength: 128, description });
export const Uuid = (description: string) => Type.String({ format: 'uuid', description });
export const Timestamp = (description: string) => Type.String({ format: 'date-time', description });
export const DateOnly = (description: string) => Type.String({ format: 'date', description });

export const Money = Type.Object(
  {
    amount_minor: Type.Integer({ minimum: 0, description: 'Amount in the currency minor unit (cents).' }),
    currency: Type.String({ pattern: CURRENCY_PATTERN, description: 'ISO 4217 code, e.g. EUR.' }),
  },
  { description: 'An amount of money.' },
);

export const GeoPoint = Type.Object({
  lat: Type.Number({ minimum: -90, maximum: 90 }),
  lon: Type.Number({ minimum: -180, maximum: 180 }),
});

export const DocumentType = StringEnum(['dni', 'nie', 'passport'] as const, { description: 'Kind of identity document.' });

/** A masked identity-document number: at least three `*`, then at most the last four characters. */
export const MaskedDocumentNumber = Type.String({
  pattern: '^[*]{3,}[0-9A-Z]{0,4}$',
  description: 'Masked document number (never the full number), e.g. *****678Z.',
});

/** Masks an identity-document number keeping its last `keep` characters (events never carry it whole). */
export function maskDocumentNumber(documentNumber: string, keep = 4): string {
  const clean = documentNumber.toUpperCase().replace(/[^0-9A-Z]/g, '');
  const visible = clean.length > keep ? clean.slice(-keep) : '';
  return '*'.repeat(Math.max(3, clean.length - visible.length)) + visible;
}

/** Masks an email address for events and logs: `p***@example.org`. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at < 1) return '***';
  return `${email[0]}***${email.slice(at)}`;
}
