// Identity-document numbers: the Spanish DNI and NIE check letters and passport number formats.
// Pure functions; each answers the reason codes of what is wrong (empty when the number is fine).

export type DocumentType = 'dni' | 'nie' | 'passport';

/**
 * The check letter table of the DNI and the NIE: the letter is `TABLE[number mod 23]`
 * (Ministerio del Interior, "Cálculo del dígito de control del NIF/NIE"; Real Decreto 1553/2005, art. 11).
 */
const CHECK_LETTERS = 'TRWAGMYFPDXBNJZSQVHLCKE';

/**
 * The number as the rules read it: upper case, without the spaces, hyphens and dots people type
 * between groups ("12.345.678-z" → "12345678Z"). Anything else stays, so the format rules refuse it.
 */
export function normalizeNumber(raw: string): string {
  return raw.toUpperCase().replace(/[\s.-]/g, '');
}

/** The check letter of an 8-digit DNI number (or a NIE whose X/Y/Z became 0/1/2). */
export function checkLetterOf(digits: string): string {
  // 8 digits fit a double exactly; mod 23 of an integer below 10^8 is exact.
  return CHECK_LETTERS.charAt(Number(digits) % 23);
}

/** DNI: 8 digits and the check letter of their value. */
export function dniProblems(number: string): string[] {
  const m = /^([0-9]{8})([A-Z])$/.exec(number);
  if (!m) return ['number_format_invalid'];
  return checkLetterOf(m[1]!) === m[2] ? [] : ['dni_check_letter_mismatch'];
}

/** NIE: X, Y or Z (read as 0, 1, 2), 7 digits, then the DNI check letter of those 8 digits. */
export function nieProblems(number: string): string[] {
  const m = /^([XYZ])([0-9]{7})([A-Z])$/.exec(number);
  if (!m) return ['number_format_invalid'];
  const prefix = String('XYZ'.indexOf(m[1]!));
  return checkLetterOf(prefix + m[2]!) === m[3] ? [] : ['nie_check_letter_mismatch'];
}

/**
 * Passport number formats of the issuing countries we know (ICAO 9303 allows up to 9 characters of
 * A–Z and 0–9 in the MRZ's document number field; each issuer narrows it). The formats are the ones the
 * team agreed on for issue 13, from the issuers' published specimens as summarised in the EU's PRADO
 * register (https://www.consilium.europa.eu/prado/) — a real number one of these refuses is a reason to
 * widen the pattern here, with the source, not to force the guest:
 * - ESP: 3 letters + 6 digits (current books); older books 2 letters + 6 digits.
 * - FRA: 2 digits, 2 letters, 5 digits.
 * - DEU: 9 characters from C F G H J K L M N P R T V W X Y Z and digits (the serial-number alphabet of
 *   German passports and ID cards: no vowels, and none of B D Q S that read like digits).
 * - GBR: 9 digits.
 * - USA: 9 digits; the "Next Generation" books (since 2021) print a letter and 8 digits.
 * - ITA: 2 letters + 7 digits.
 * - PRT: 1 letter + 6 digits.
 */
export const PASSPORT_FORMATS: Readonly<Record<string, RegExp>> = {
  ESP: /^(?:[A-Z]{3}[0-9]{6}|[A-Z]{2}[0-9]{6})$/,
  FRA: /^[0-9]{2}[A-Z]{2}[0-9]{5}$/,
  DEU: /^[CFGHJKLMNPRTVWXYZ0-9]{9}$/,
  GBR: /^[0-9]{9}$/,
  USA: /^(?:[0-9]{9}|[A-Z][0-9]{8})$/,
  ITA: /^[A-Z]{2}[0-9]{7}$/,
  PRT: /^[A-Z][0-9]{6}$/,
};

/** Any other issuer: 6 to 9 letters and digits. */
export const GENERIC_PASSPORT_FORMAT = /^[A-Z0-9]{6,9}$/;

export function passportProblems(number: string, issuingCountry: string): string[] {
  const format = PASSPORT_FORMATS[issuingCountry] ?? GENERIC_PASSPORT_FORMAT;
  return format.test(number) ? [] : ['passport_format_invalid'];
}

/** Every problem with `number` as a document of `type` issued by `issuingCountry` (normalised number). */
export function numberProblems(type: DocumentType, number: string, issuingCountry: string): string[] {
  switch (type) {
    case 'dni':
      return [...dniProblems(number), ...(issuingCountry === 'ESP' ? [] : ['country_not_allowed_for_type'])];
    case 'nie':
      return [...nieProblems(number), ...(issuingCountry === 'ESP' ? [] : ['country_not_allowed_for_type'])];
    case 'passport':
      return passportProblems(number, issuingCountry);
  }
}
