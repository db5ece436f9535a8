// ICAO Doc 9303 machine readable zones: TD3 (passport books, 2 lines of 44 characters, part 4) and TD1
// (ID cards, 3 lines of 30, part 5; the Spanish DNI is a TD1 card). Parsing, check digits (part 3,
// §4.9) and the two-digit years. Pure.

export type MrzFormat = 'TD1' | 'TD3';

/** The fields of an MRZ as printed (fillers `<` kept), plus the check digits as printed. */
export interface Mrz {
  readonly format: MrzFormat;
  /** Document code: `P…` for passports, `I…`, `A…` or `C…` for ID cards. */
  readonly documentCode: string;
  /** Issuing state or organisation, 3 characters (`D<<` is Germany). */
  readonly issuingState: string;
  /** The document number field (9 characters with fillers). */
  readonly documentNumber: string;
  readonly documentNumberCheck: string;
  /** TD3: the personal number field (14); TD1: optional data of line 1 (15). */
  readonly optionalData: string;
  /** TD3 only: the personal number's check digit. */
  readonly optionalDataCheck?: string;
  /** YYMMDD */
  readonly birthDate: string;
  readonly birthDateCheck: string;
  /** YYMMDD */
  readonly expiryDate: string;
  readonly expiryDateCheck: string;
  readonly compositeCheck: string;
  /** The characters the composite check digit covers (ICAO 9303 part 4 §4.2.2.2, part 5 §4.2.2.2). */
  readonly compositeInput: string;
}

const MRZ_CHARS = /^[A-Z0-9<]+$/;

/** Value of one MRZ character for check digits: 0–9, A–Z = 10–35, `<` = 0; -1 for anything else. */
function charValue(c: string): number {
  const code = c.charCodeAt(0);
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 65 && code <= 90) return code - 55;
  if (c === '<') return 0;
  return -1;
}

/** ICAO 9303 check digit: weights 7, 3, 1 repeating, sum modulo 10. */
export function checkDigit(field: string): string {
  const weights = [7, 3, 1];
  let sum = 0;
  for (let i = 0; i < field.length; i++) sum += Math.max(0, charValue(field.charAt(i))) * weights[i % 3]!;
  return String(sum % 10);
}

/** Whether `printed` is the right check digit of `field`. An empty field (all `<`) may print `<` as its digit. */
export function checkDigitMatches(field: string, printed: string): boolean {
  if (printed === '<') return /^<*$/.test(field);
  return checkDigit(field) === printed;
}

/**
 * Splits an MRZ (lines joined by "\n"; "\r\n" and trailing spaces of a line tolerated) into its
 * fields, or undefined when it is neither 2×44 nor 3×30 characters of A–Z, 0–9 and `<`.
 */
export function parseMrz(text: string): Mrz | undefined {
  const lines = text
    .replace(/\r\n/g, '\n')
    .replace(/\n+$/, '')
    .split('\n')
    .map((l) => l.replace(/ +$/, ''));
  if (!lines.every((l) => MRZ_CHARS.test(l))) return undefined;
  if (lines.length === 2 && lines[0]!.length === 44 && lines[1]!.length === 44) {
    const [l1, l2] = lines as [string, string];
    return {
      format: 'TD3',
      documentCode: l1.slice(0, 2),
      issuingState: l1.slice(2, 5),
      documentNumber: l2.slice(0, 9),
      documentNumberCheck: l2.charAt(9),
      birthDate: l2.slice(13, 19),
      birthDateCheck: l2.charAt(19),
      expiryDate: l2.slice(21, 27),
      expiryDateCheck: l2.charAt(27),
      optionalData: l2.slice(28, 42),
      optionalDataCheck: l2.charAt(42),
      compositeCheck: l2.charAt(43),
      compositeInput: l2.slice(0, 10) + l2.slice(13, 20) + l2.slice(21, 43),
    };
  }
  if (lines.length === 3 && lines.every((l) => l.length === 30)) {
    const [l1, l2] = lines as [string, string, string];
    return {
      format: 'TD1',
      documentCode: l1.slice(0, 2),
      issuingState: l1.slice(2, 5),
      documentNumber: l1.slice(5, 14),
      documentNumberCheck: l1.charAt(14),
      optionalData: l1.slice(15, 30),
      birthDate: l2.slice(0, 6),
      birthDateCheck: l2.charAt(6),
      expiryDate: l2.slice(8, 14),
      expiryDateCheck: l2.charAt(14),
      compositeCheck: l2.charAt(29),
      compositeInput: l1.slice(5, 30) + l2.slice(0, 7) + l2.slice(8, 15) + l2.slice(18, 29),
    };
  }
  return undefined;
}

/** Every check digit that does not match, as reason codes. */
export function mrzCheckDigitProblems(m: Mrz): string[] {
  const problems: string[] = [];
  if (!checkDigitMatches(m.documentNumber, m.documentNumberCheck)) problems.push('mrz_check_digit_document_number');
  if (!checkDigitMatches(m.birthDate, m.birthDateCheck)) problems.push('mrz_check_digit_birth_date');
  if (!checkDigitMatches(m.expiryDate, m.expiryDateCheck)) problems.push('mrz_check_digit_expiry');
  if (m.optionalDataCheck !== undefined && !checkDigitMatches(m.optionalData, m.optionalDataCheck))
    problems.push('mrz_check_digit_optional_data');
  if (!checkDigitMatches(m.compositeInput, m.compositeCheck)) problems.push('mrz_check_digit_composite');
  return problems;
}

function isYymmdd(s: string): boolean {
  if (!/^[0-9]{6}$/.test(s)) return false;
  const month = Number(s.slice(2, 4));
  const day = Number(s.slice(4, 6));
  return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

/**
 * The birth date of an MRZ's YYMMDD: the latest century that does not put it after `today`
 * (YYYY-MM-DD) — a person is born in the past, and nobody in a hostel is a hundred years older than the
 * two digits say. undefined when it is not a date.
 */
export function mrzBirthDate(yymmdd: string, today: string): string | undefined {
  if (!isYymmdd(yymmdd)) return undefined;
  const yy = Number(yymmdd.slice(0, 2));
  const thisYear = Number(today.slice(0, 4));
  let year = Math.floor(thisYear / 100) * 100 + yy;
  const date = (y: number) => `${y}-${yymmdd.slice(2, 4)}-${yymmdd.slice(4, 6)}`;
  if (date(year) > today) year -= 100;
  return date(year);
}

/**
 * The expiry date of an MRZ's YYMMDD: the century that puts it within 50 years before or after `today`
 * (documents are valid for at most 10 years, 15 at most anywhere we know of; an expired one is at most
 * decades old).
 */
export function mrzExpiryDate(yymmdd: string, today: string): string | undefined {
  if (!isYymmdd(yymmdd)) return undefined;
  const yy = Number(yymmdd.slice(0, 2));
  const thisYear = Number(today.slice(0, 4));
  let year = Math.floor(thisYear / 100) * 100 + yy;
  if (year >= thisYear + 50) year -= 100;
  else if (year < thisYear - 50) year += 100;
  return `${year}-${yymmdd.slice(2, 4)}-${yymmdd.slice(4, 6)}`;
}

/** YYYY-MM-DD → YYMMDD (as an MRZ prints it). */
export function toYymmdd(date: string): string {
  return date.slice(2, 4) + date.slice(5, 7) + date.slice(8, 10);
}

/** An MRZ field without its fillers (`L898902C<` → `L898902C`). */
export function unfill(field: string): string {
  return field.replace(/<+$/, '').replace(/</g, ' ');
}

/** The issuing state of an MRZ as ISO 3166-1 alpha-3: ICAO writes Germany as `D<<`. */
export function mrzCountry(state: string): string {
  return state === 'D<<' ? 'DEU' : state.replace(/<+$/, '');
}
