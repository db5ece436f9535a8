// The document decider: a guest submits an identity document, and it is later validated or rejected
// with every reason. `decide(command, state) → events`, `evolve(state, event) → state`; pure.
//
// The full document number and the MRZ come in with the commands only: the state (what is stored in
// clear) and every event carry the masked number.
import type { DocumentRejected, DocumentValidated, PayloadOf } from '@albergue/events';
import { maskDocumentNumber } from '@albergue/events';
import type { Decision } from '@albergue/decider';
import { accept, assertNever, ignore, isCalendarDate, reject } from '@albergue/decider';
import type { DocumentType } from './identity-numbers.js';
import { normalizeNumber, numberProblems } from './identity-numbers.js';
import { mrzBirthDate, mrzCheckDigitProblems, mrzCountry, mrzExpiryDate, parseMrz, unfill } from './mrz.js';
import type { Mrz } from './mrz.js';

export type { DocumentType };

/** A guest younger than this on the day of submission needs a guardian_reference (Spanish hostel rules). */
export const MINIMUM_AGE_WITHOUT_GUARDIAN = 14;
/** A birth date more than this many years ago is a typing mistake, not a guest. */
export const MAXIMUM_AGE = 130;

/** What is kept about a submission in clear: no document number, no MRZ. */
export interface DocumentFacts {
  readonly document_id: string;
  readonly guest_id: string;
  readonly booking_id?: string;
  readonly document_type: DocumentType;
  readonly document_number_masked: string;
  readonly issuing_country: string;
  readonly expires_on: string;
  readonly birth_date: string;
  readonly guardian_reference?: string;
  /** Instant of the submission (ISO-8601 UTC). */
  readonly submitted_at: string;
  /** The local date of the submission (Europe/Madrid): the guest's age is counted on it. */
  readonly submitted_on: string;
}

export type DocumentEvent =
  | { readonly type: 'DocumentSubmitted'; readonly data: DocumentFacts }
  | { readonly type: 'DocumentValidated'; readonly data: Readonly<PayloadOf<typeof DocumentValidated>> }
  | { readonly type: 'DocumentRejected'; readonly data: Readonly<PayloadOf<typeof DocumentRejected>> };

export type DocumentState =
  | { readonly status: 'none' }
  | { readonly status: 'pending'; readonly facts: DocumentFacts }
  | {
      readonly status: 'validated' | 'rejected';
      readonly facts: DocumentFacts;
      /** Reason codes (empty when validated). */
      readonly reasons: readonly string[];
      readonly decided_at: string;
    };

export const NO_DOCUMENT: DocumentState = { status: 'none' };

export interface SubmitDocument {
  readonly type: 'SubmitDocument';
  readonly data: Omit<DocumentFacts, 'document_number_masked'> & {
    /** The number as the guest typed it; only its mask is kept. */
    readonly number: string;
  };
}

export interface ValidateDocument {
  readonly type: 'ValidateDocument';
  readonly data: {
    readonly document_id: string;
    /** The full number (decrypted for this decision only). */
    readonly number: string;
    readonly mrz?: string;
    /** The decision instant and its local date: expiry is judged on `today`. */
    readonly now: string;
    readonly today: string;
  };
}

export type DocumentCommand = SubmitDocument | ValidateDocument;
export type DocumentErrorCode = 'document_exists' | 'document_not_found';
export type DocumentDecision = Decision<DocumentEvent, DocumentErrorCode>;

export function decide(command: DocumentCommand, state: DocumentState): DocumentDecision {
  switch (command.type) {
    case 'SubmitDocument':
      return submit(command.data, state);
    case 'ValidateDocument':
      return validate(command.data, state);
    default:
      return assertNever(command);
  }
}

export function evolve(state: DocumentState, event: DocumentEvent): DocumentState {
  switch (event.type) {
    case 'DocumentSubmitted':
      return { status: 'pending', facts: event.data };
    case 'DocumentValidated':
      if (state.status === 'none') return state;
      return { status: 'validated', facts: state.facts, reasons: [], decided_at: event.data.validated_at };
    case 'DocumentRejected':
      if (state.status === 'none') return state;
      return { status: 'rejected', facts: state.facts, reasons: [...event.data.reasons], decided_at: event.data.rejected_at };
    default:
      return assertNever(event);
  }
}

function submit(c: SubmitDocument['data'], state: DocumentState): DocumentDecision {
  if (state.status !== 'none') return reject({ code: 'document_exists', reason: `document ${c.document_id} was already submitted` });
  const { number, ...facts } = c;
  return accept<DocumentEvent>({
    type: 'DocumentSubmitted',
    data: { ...facts, document_number_masked: maskDocumentNumber(normalizeNumber(number)) },
  });
}

function validate(c: ValidateDocument['data'], state: DocumentState): DocumentDecision {
  if (state.status === 'none') return reject({ code: 'document_not_found', reason: `document ${c.document_id} does not exist` });
  if (state.status !== 'pending') return ignore('document_already_decided', `document ${c.document_id} is already ${state.status}`);
  const f = state.facts;
  const reasons = documentProblems(f, c.number, c.mrz, c.today);
  const common = {
    document_id: f.document_id,
    guest_id: f.guest_id,
    ...(f.booking_id === undefined ? {} : { booking_id: f.booking_id }),
    document_type: f.document_type,
  };
  if (reasons.length > 0) return accept<DocumentEvent>({ type: 'DocumentRejected', data: { ...common, reasons, rejected_at: c.now } });
  return accept<DocumentEvent>({
    type: 'DocumentValidated',
    data: {
      ...common,
      document_number_masked: f.document_number_masked,
      issuing_country: f.issuing_country,
      expires_on: f.expires_on,
      validated_at: c.now,
    },
  });
}

/** `date` plus `years` calendar years, as a YYYY-MM-DD string (29 February stays; string order still works). */
function plusYears(date: string, years: number): string {
  return `${String(Number(date.slice(0, 4)) + years).padStart(4, '0')}${date.slice(4)}`;
}

/**
 * Every reason the document is not acceptable, in a stable order, without duplicates; empty when it
 * is. `today` is the decision's local date (expiry); the guest's age is counted on the submission day.
 */
export function documentProblems(f: DocumentFacts, rawNumber: string, mrzText: string | undefined, today: string): string[] {
  const number = normalizeNumber(rawNumber);
  const reasons: string[] = [...numberProblems(f.document_type, number, f.issuing_country)];
  const birthOk = isCalendarDate(f.birth_date);
  const expiryOk = isCalendarDate(f.expires_on);
  if (!birthOk) reasons.push('birth_date_invalid');
  if (!expiryOk) reasons.push('expiry_date_invalid');
  if (birthOk) {
    if (f.birth_date > f.submitted_on) reasons.push('birth_date_in_future');
    else if (plusYears(f.birth_date, MAXIMUM_AGE) < f.submitted_on) reasons.push('birth_date_implausible');
    else if (plusYears(f.birth_date, MINIMUM_AGE_WITHOUT_GUARDIAN) > f.submitted_on && !f.guardian_reference?.trim())
      reasons.push('minor_without_guardian');
  }
  if (birthOk && expiryOk && f.expires_on < f.birth_date) reasons.push('expiry_before_birth');
  if (expiryOk && f.expires_on < today) reasons.push('document_expired');
  if (mrzText !== undefined) reasons.push(...mrzProblems(f, number, mrzText, today));
  return [...new Set(reasons)];
}

/** The number an MRZ carries for `type`: a Spanish DNI/NIE card has it in the optional data (its document number field is the card's support number). */
function mrzNumbers(m: Mrz, type: DocumentType): string[] {
  const documentNumber = unfill(m.documentNumber);
  if (type === 'passport') return [documentNumber];
  const personal = m.optionalData.split('<')[0] ?? '';
  return personal === '' ? [documentNumber] : [personal, documentNumber];
}

/** MRZ reasons: malformed (and nothing else), else check digits and agreement with the submitted fields. */
export function mrzProblems(f: DocumentFacts, number: string, mrzText: string, today: string): string[] {
  const m = parseMrz(mrzText);
  if (!m) return ['mrz_malformed'];
  const reasons = mrzCheckDigitProblems(m);
  const passportCode = m.documentCode.startsWith('P');
  const cardCode = /^[IAC]/.test(m.documentCode);
  const typeAgrees = f.document_type === 'passport' ? passportCode && m.format === 'TD3' : cardCode && m.format === 'TD1';
  if (!typeAgrees) reasons.push('mrz_mismatch_document_type');
  if (!mrzNumbers(m, f.document_type).includes(number)) reasons.push('mrz_mismatch_number');
  const birth = mrzBirthDate(m.birthDate, today);
  if (birth === undefined) reasons.push('mrz_malformed');
  else if (birth !== f.birth_date) reasons.push('mrz_mismatch_birth_date');
  const expiry = mrzExpiryDate(m.expiryDate, today);
  if (expiry === undefined) reasons.push('mrz_malformed');
  else if (expiry !== f.expires_on) reasons.push('mrz_mismatch_expiry');
  if (mrzCountry(m.issuingState) !== f.issuing_country) reasons.push('mrz_mismatch_country');
  return reasons;
}

/** Every reason code the rules can answer (docs/documents.md explains each). */
export const REASON_CODES = [
  'number_format_invalid',
  'dni_check_letter_mismatch',
  'nie_check_letter_mismatch',
  'passport_format_invalid',
  'country_not_allowed_for_type',
  'birth_date_invalid',
  'expiry_date_invalid',
  'birth_date_in_future',
  'birth_date_implausible',
  'minor_without_guardian',
  'expiry_before_birth',
  'document_expired',
  'mrz_malformed',
  'mrz_check_digit_document_number',
  'mrz_check_digit_birth_date',
  'mrz_check_digit_expiry',
  'mrz_check_digit_optional_data',
  'mrz_check_digit_composite',
  'mrz_mismatch_document_type',
  'mrz_mismatch_number',
  'mrz_mismatch_birth_date',
  'mrz_mismatch_expiry',
  'mrz_mismatch_country',
] as const;
