// The document rules, table by table: real valid and invalid DNI, NIE, passport and MRZ samples, each
// reason code, then the decider (given/when/then).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DocumentFacts, DocumentState } from './document.js';
import { decide, documentProblems, evolve, NO_DOCUMENT, REASON_CODES } from './document.js';
import { checkLetterOf, dniProblems, nieProblems, normalizeNumber, passportProblems } from './identity-numbers.js';
import { checkDigit, checkDigitMatches, mrzBirthDate, mrzCheckDigitProblems, mrzExpiryDate, parseMrz } from './mrz.js';

const TODAY = '2026-12-02';

// ICAO Doc 9303 specimens (part 4 appendix A: TD3; part 5 appendix A: TD1): every check digit is right.
const ICAO_TD3 = 'P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10';
const ICAO_TD1 = 'I<UTOD231458907<<<<<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\nERIKSSON<<ANNA<MARIA<<<<<<<<<<';

const fill = (s: string, n: number) => s.padEnd(n, '<').slice(0, n);

/** A TD3 (passport) MRZ with correct check digits, unless `tamper` changes a character after computing them. */
function td3(o: { number: string; country: string; birth: string; expiry: string; code?: string; personal?: string }): string {
  const l1 = fill(`${o.code ?? 'P<'}${o.country}PEREGRINA<<ANA`, 44);
  const num = fill(o.number, 9);
  const personal = fill(o.personal ?? '', 14);
  const personalCheck = checkDigit(personal);
  const body = `${num}${checkDigit(num)}${o.country}${o.birth}${checkDigit(o.birth)}F${o.expiry}${checkDigit(o.expiry)}${personal}${personalCheck}`;
  const composite = checkDigit(body.slice(0, 10) + body.slice(13, 20) + body.slice(21, 43));
  return `${l1}\n${body}${composite}`;
}

/** A TD1 (ID card) MRZ; a Spanish DNI carries the card's support number in the number field and the DNI in the optional data. */
function td1(o: { number: string; country: string; birth: string; expiry: string; code?: string; optional?: string }): string {
  const num = fill(o.number, 9);
  const l1 = `${o.code ?? 'ID'}${o.country}${num}${checkDigit(num)}${fill(o.optional ?? '', 15)}`;
  const l2start = `${o.birth}${checkDigit(o.birth)}F${o.expiry}${checkDigit(o.expiry)}${o.country}${fill('', 11)}`;
  const composite = checkDigit(l1.slice(5, 30) + l2start.slice(0, 7) + l2start.slice(8, 15) + l2start.slice(18, 29));
  return `${l1}\n${l2start}${composite}\n${fill('ESPANOLA<ESPANOLA<<CARMEN', 30)}`;
}

/** Replaces the character at (line, column) of an MRZ. */
function tamper(mrz: string, line: number, col: number, c: string): string {
  const lines = mrz.split('\n');
  const l = lines[line]!;
  lines[line] = l.slice(0, col) + c + l.slice(col + 1);
  return lines.join('\n');
}

function facts(over: Partial<DocumentFacts> = {}): DocumentFacts {
  return {
    document_id: 'doc-1',
    guest_id: 'g-1',
    document_type: 'dni',
    document_number_masked: '*****678Z',
    issuing_country: 'ESP',
    expires_on: '2031-05-20',
    birth_date: '1980-01-01',
    submitted_at: '2026-12-02T09:00:00.000Z',
    submitted_on: TODAY,
    ...over,
  };
}

const SPANISH_DNI_MRZ = td1({ number: 'BAA000589', country: 'ESP', birth: '800101', expiry: '310520', optional: '12345678Z' });

describe('DNI: 8 digits + the letter TRWAGMYFPDXBNJZSQVHLCKE[number mod 23]', () => {
  const cases: [string, string[]][] = [
    ['12345678Z', []], // 12345678 mod 23 = 14 → Z
    ['00000000T', []], // 0 → T
    ['99999999R', []], // the DNI 3.0 specimen's number
    ['01234567L', []],
    ['12345678A', ['dni_check_letter_mismatch']],
    ['00000000R', ['dni_check_letter_mismatch']],
    ['1234567Z', ['number_format_invalid']], // 7 digits
    ['123456789Z', ['number_format_invalid']],
    ['12345678', ['number_format_invalid']],
    ['X1234567L', ['number_format_invalid']], // a NIE is not a DNI
    ['1234567ZZ', ['number_format_invalid']],
    ['', ['number_format_invalid']],
  ];
  for (const [number, expected] of cases)
    test(`${number || '(empty)'} → ${expected.join(', ') || 'valid'}`, () => assert.deepEqual(dniProblems(number), expected));

  test('every letter of the table is right for its remainder (0..22)', () => {
    assert.deepEqual(Array.from({ length: 23 }, (_, r) => checkLetterOf(String(r).padStart(8, '0'))).join(''), 'TRWAGMYFPDXBNJZSQVHLCKE');
  });

  test('typed with dots, spaces, a hyphen or in lower case → normalised before the rules', () => {
    assert.equal(normalizeNumber(' 12.345.678-z '), '12345678Z');
    assert.deepEqual(dniProblems(normalizeNumber('12 345 678 z')), []);
  });
});

describe('NIE: X/Y/Z → 0/1/2, 7 digits, then the DNI letter', () => {
  const cases: [string, string[]][] = [
    ['X1234567L', []], // 01234567 mod 23 = 19 → L
    ['Y1234567X', []], // 11234567 mod 23 = 10 → X
    ['Z1234567R', []], // 21234567 mod 23 = 1 → R
    ['X0000000T', []],
    ['X1234567A', ['nie_check_letter_mismatch']],
    ['Y1234567L', ['nie_check_letter_mismatch']], // X's letter under Y
    ['W1234567L', ['number_format_invalid']],
    ['X123456L', ['number_format_invalid']],
    ['X12345678L', ['number_format_invalid']],
    ['12345678Z', ['number_format_invalid']],
  ];
  for (const [number, expected] of cases)
    test(`${number} → ${expected.join(', ') || 'valid'}`, () => assert.deepEqual(nieProblems(number), expected));
});

describe('passports: the format of the issuing country, else 6–9 letters and digits', () => {
  const cases: [string, string, boolean][] = [
    ['ESP', 'PAA123456', true],
    ['ESP', 'AA123456', true], // older books
    ['ESP', 'PA1234567', false],
    ['ESP', '123456789', false],
    ['FRA', '12AB34567', true],
    ['FRA', 'AB1234567', false],
    ['DEU', 'C01X00T47', true],
    ['DEU', 'CA1X00T47', false], // A is not in the alphabet
    ['DEU', 'C01X00T4', false],
    ['GBR', '123456789', true],
    ['GBR', 'A23456789', false],
    ['USA', '123456789', true],
    ['USA', 'A12345678', true],
    ['USA', 'AB1234567', false],
    ['ITA', 'YA1234567', true],
    ['ITA', 'Y12345678', false],
    ['PRT', 'C123456', true],
    ['PRT', 'CB123456', false],
    ['UTO', 'L898902C3', true], // the ICAO specimen: the generic rule
    ['NLD', 'NW1234K5', true],
    ['NLD', 'AB12', false], // too short
    ['NLD', 'ABCDEFGHIJ', false], // too long
    ['NLD', 'AB-12345', false], // only letters and digits
  ];
  for (const [country, number, ok] of cases) {
    test(`${country} ${number} → ${ok ? 'valid' : 'passport_format_invalid'}`, () =>
      assert.deepEqual(passportProblems(number, country), ok ? [] : ['passport_format_invalid']));
  }
});

describe('MRZ (ICAO 9303)', () => {
  test('the ICAO specimens (TD3 and TD1) parse with every check digit right', () => {
    const p = parseMrz(ICAO_TD3);
    assert.equal(p?.format, 'TD3');
    assert.equal(p?.documentNumber, 'L898902C3');
    assert.equal(p?.birthDate, '740812');
    assert.deepEqual(mrzCheckDigitProblems(p), []);
    const c = parseMrz(ICAO_TD1);
    assert.equal(c?.format, 'TD1');
    assert.equal(c?.documentNumber, 'D23145890');
    assert.deepEqual(mrzCheckDigitProblems(c), []);
  });

  test('check digits: weights 7, 3, 1; A–Z = 10–35; < = 0', () => {
    assert.equal(checkDigit('L898902C3'), '6');
    assert.equal(checkDigit('740812'), '2');
    assert.equal(checkDigit('120415'), '9');
    assert.equal(checkDigit('<<<<<<<<<'), '0');
    assert.equal(checkDigit('A'), '0'); // 10 × 7 = 70
    assert.equal(checkDigit('Z'), '5'); // 35 × 7 = 245
    assert.ok(checkDigitMatches('<<<<<<<<<<<<<<', '<'));
    assert.ok(!checkDigitMatches('ZE184226B<<<<<', '<'));
  });

  const badDigits: [string, string, number, number][] = [
    ['TD3 document number', 'mrz_check_digit_document_number', 1, 9],
    ['TD3 birth date', 'mrz_check_digit_birth_date', 1, 19],
    ['TD3 expiry', 'mrz_check_digit_expiry', 1, 27],
    ['TD3 personal number', 'mrz_check_digit_optional_data', 1, 42],
    ['TD3 composite', 'mrz_check_digit_composite', 1, 43],
  ];
  for (const [what, code, line, col] of badDigits) {
    // The composite covers the other check digits too, so it breaks with them.
    const expected = code === 'mrz_check_digit_composite' ? [code] : [code, 'mrz_check_digit_composite'];
    test(`${what}: a wrong digit → ${expected.join(' + ')}`, () => {
      const wrong = String((Number(ICAO_TD3.split('\n')[line]!.charAt(col)) + 1) % 10);
      assert.deepEqual(mrzCheckDigitProblems(parseMrz(tamper(ICAO_TD3, line, col, wrong))!), expected);
    });
  }
  const badTd1: [string, string, number, number][] = [
    ['TD1 document number', 'mrz_check_digit_document_number', 0, 14],
    ['TD1 birth date', 'mrz_check_digit_birth_date', 1, 6],
    ['TD1 expiry', 'mrz_check_digit_expiry', 1, 14],
    ['TD1 composite', 'mrz_check_digit_composite', 1, 29],
  ];
  for (const [what, code, line, col] of badTd1) {
    const expected = code === 'mrz_check_digit_composite' ? [code] : [code, 'mrz_check_digit_composite'];
    test(`${what}: a wrong digit → ${expected.join(' + ')}`, () => {
      const wrong = String((Number(ICAO_TD1.split('\n')[line]!.charAt(col)) + 1) % 10);
      assert.deepEqual(mrzCheckDigitProblems(parseMrz(tamper(ICAO_TD1, line, col, wrong))!), expected);
    });
  }
  test('a changed data character (not a digit) breaks its field and the composite', () => {
    assert.deepEqual(mrzCheckDigitProblems(parseMrz(tamper(ICAO_TD3, 1, 0, 'M'))!), [
      'mrz_check_digit_document_number',
      'mrz_check_digit_composite',
    ]);
  });

  const malformed: [string, string][] = [
    ['empty', ''],
    ['one line', ICAO_TD3.split('\n')[1]!],
    [
      'lines of 43',
      ICAO_TD3.split('\n')
        .map((l) => l.slice(1))
        .join('\n'),
    ],
    ['TD1 of 2 lines', ICAO_TD1.split('\n').slice(0, 2).join('\n')],
    ['lower case', ICAO_TD3.toLowerCase()],
    ['a space inside', tamper(ICAO_TD3, 0, 10, ' ')],
    ['4 lines', `${ICAO_TD1}\n${ICAO_TD1.split('\n')[0]!}`],
  ];
  for (const [what, text] of malformed) test(`malformed (${what}) → undefined`, () => assert.equal(parseMrz(text), undefined));

  test('CRLF, a trailing newline and trailing spaces are tolerated', () => {
    assert.equal(parseMrz(`${ICAO_TD3.replace('\n', '  \r\n')}\n`)?.format, 'TD3');
  });

  test('two-digit years: a birth date takes the latest century not after today; an expiry the century within 50 years of today', () => {
    assert.equal(mrzBirthDate('740812', TODAY), '1974-08-12');
    assert.equal(mrzBirthDate('200101', TODAY), '2020-01-01');
    assert.equal(mrzBirthDate('261201', TODAY), '2026-12-01');
    assert.equal(mrzBirthDate('261203', TODAY), '1926-12-03'); // tomorrow's date → a century ago
    assert.equal(mrzBirthDate('991231', TODAY), '1999-12-31');
    assert.equal(mrzExpiryDate('310520', TODAY), '2031-05-20');
    assert.equal(mrzExpiryDate('120415', TODAY), '2012-04-15');
    assert.equal(mrzExpiryDate('750101', TODAY), '2075-01-01');
    assert.equal(mrzExpiryDate('770101', TODAY), '1977-01-01');
    assert.equal(mrzBirthDate('801301', TODAY), undefined); // month 13
    assert.equal(mrzExpiryDate('80010A', TODAY), undefined);
  });
});

describe('documentProblems: every rule, each reason code', () => {
  const passportFacts = (over: Partial<DocumentFacts> = {}) =>
    facts({ document_type: 'passport', issuing_country: 'UTO', birth_date: '1974-08-12', expires_on: '2032-04-15', ...over });
  const goodTd3 = td3({ number: 'L898902C3', country: 'UTO', birth: '740812', expiry: '320415', personal: 'ZE184226B' });

  const cases: { name: string; f: DocumentFacts; number: string; mrz?: string; today?: string; expected: string[] }[] = [
    { name: 'valid DNI', f: facts(), number: '12345678Z', expected: [] },
    { name: 'valid DNI with its TD1 MRZ (DNI in the optional data)', f: facts(), number: '12345678Z', mrz: SPANISH_DNI_MRZ, expected: [] },
    { name: 'valid NIE', f: facts({ document_type: 'nie' }), number: 'X1234567L', expected: [] },
    { name: 'valid passport with its TD3 MRZ', f: passportFacts(), number: 'L898902C3', mrz: goodTd3, expected: [] },
    {
      name: 'valid German passport: its MRZ says D<<',
      f: passportFacts({ issuing_country: 'DEU' }),
      number: 'C01X00T47',
      mrz: td3({ number: 'C01X00T47', country: 'D<<', birth: '740812', expiry: '320415' }),
      expected: [],
    },
    { name: 'DNI letter wrong', f: facts(), number: '12345678A', expected: ['dni_check_letter_mismatch'] },
    { name: 'NIE letter wrong', f: facts({ document_type: 'nie' }), number: 'X1234567A', expected: ['nie_check_letter_mismatch'] },
    { name: 'DNI not 8 digits + letter', f: facts(), number: '1234-567', expected: ['number_format_invalid'] },
    { name: 'passport format', f: passportFacts({ issuing_country: 'ITA' }), number: 'Y12345678', expected: ['passport_format_invalid'] },
    { name: 'DNI issued by France', f: facts({ issuing_country: 'FRA' }), number: '12345678Z', expected: ['country_not_allowed_for_type'] },
    {
      name: 'NIE issued by Portugal',
      f: facts({ document_type: 'nie', issuing_country: 'PRT' }),
      number: 'X1234567L',
      expected: ['country_not_allowed_for_type'],
    },
    { name: 'birth date not a date', f: facts({ birth_date: '1980-02-30' }), number: '12345678Z', expected: ['birth_date_invalid'] },
    { name: 'expiry not a date', f: facts({ expires_on: '2031-13-01' }), number: '12345678Z', expected: ['expiry_date_invalid'] },
    {
      name: 'born tomorrow',
      f: facts({ birth_date: '2026-12-03', guardian_reference: 'g-0' }),
      number: '12345678Z',
      expected: ['birth_date_in_future'],
    },
    { name: 'born 131 years ago', f: facts({ birth_date: '1895-12-01' }), number: '12345678Z', expected: ['birth_date_implausible'] },
    {
      name: 'aged 13 without a guardian',
      f: facts({ birth_date: '2012-12-03' }),
      number: '12345678Z',
      expected: ['minor_without_guardian'],
    },
    { name: '14 today without a guardian', f: facts({ birth_date: '2012-12-02' }), number: '12345678Z', expected: [] },
    {
      name: 'aged 13 with a guardian',
      f: facts({ birth_date: '2012-12-03', guardian_reference: 'guest-mother' }),
      number: '12345678Z',
      expected: [],
    },
    {
      name: 'a blank guardian reference is none',
      f: facts({ birth_date: '2012-12-03', guardian_reference: '  ' }),
      number: '12345678Z',
      expected: ['minor_without_guardian'],
    },
    {
      name: 'expiry before birth (and so expired)',
      f: facts({ birth_date: '1980-01-01', expires_on: '1979-01-01' }),
      number: '12345678Z',
      expected: ['expiry_before_birth', 'document_expired'],
    },
    { name: 'expired yesterday', f: facts({ expires_on: '2026-12-01' }), number: '12345678Z', expected: ['document_expired'] },
    { name: 'expires today: still valid today', f: facts({ expires_on: TODAY }), number: '12345678Z', expected: [] },
    {
      name: 'expired by the decision day',
      f: facts({ expires_on: TODAY }),
      number: '12345678Z',
      today: '2026-12-03',
      expected: ['document_expired'],
    },
    { name: 'MRZ malformed', f: facts(), number: '12345678Z', mrz: 'IDESP<<<', expected: ['mrz_malformed'] },
    {
      name: 'MRZ of another DNI',
      f: facts(),
      number: '12345678Z',
      mrz: td1({ number: 'BAA000589', country: 'ESP', birth: '800101', expiry: '310520', optional: '99999999R' }),
      expected: ['mrz_mismatch_number'],
    },
    {
      name: 'MRZ with another birth date',
      f: facts(),
      number: '12345678Z',
      mrz: td1({ number: 'BAA000589', country: 'ESP', birth: '800102', expiry: '310520', optional: '12345678Z' }),
      expected: ['mrz_mismatch_birth_date'],
    },
    {
      name: 'MRZ with a birth date a century off',
      f: facts({ birth_date: '1920-01-01' }),
      number: '12345678Z',
      mrz: td1({ number: 'BAA000589', country: 'ESP', birth: '200101', expiry: '310520', optional: '12345678Z' }),
      expected: ['mrz_mismatch_birth_date'],
    },
    {
      name: 'MRZ with another expiry',
      f: facts(),
      number: '12345678Z',
      mrz: td1({ number: 'BAA000589', country: 'ESP', birth: '800101', expiry: '300520', optional: '12345678Z' }),
      expected: ['mrz_mismatch_expiry'],
    },
    {
      name: 'MRZ of another country',
      f: passportFacts(),
      number: 'L898902C3',
      mrz: td3({ number: 'L898902C3', country: 'FRA', birth: '740812', expiry: '320415' }),
      expected: ['mrz_mismatch_country'],
    },
    {
      name: 'a passport with an ID card MRZ',
      f: passportFacts(),
      number: 'L898902C3',
      mrz: td1({ number: 'L898902C3', country: 'UTO', birth: '740812', expiry: '320415' }),
      expected: ['mrz_mismatch_document_type'],
    },
    {
      name: 'a DNI with a passport MRZ',
      f: facts(),
      number: '12345678Z',
      mrz: td3({ number: '12345678Z', country: 'ESP', birth: '800101', expiry: '310520' }),
      expected: ['mrz_mismatch_document_type'],
    },
    {
      name: 'MRZ with a date that is no date (check digit right)',
      f: facts(),
      number: '12345678Z',
      mrz: td1({ number: 'BAA000589', country: 'ESP', birth: '801301', expiry: '310520', optional: '12345678Z' }),
      expected: ['mrz_malformed'],
    },
    {
      name: 'MRZ document number digit wrong',
      f: passportFacts(),
      number: 'L898902C3',
      mrz: tamper(goodTd3, 1, 9, '7'),
      expected: ['mrz_check_digit_document_number', 'mrz_check_digit_composite'],
    },
    {
      name: 'MRZ birth date digit wrong',
      f: passportFacts(),
      number: 'L898902C3',
      mrz: tamper(goodTd3, 1, 19, '3'),
      expected: ['mrz_check_digit_birth_date', 'mrz_check_digit_composite'],
    },
    {
      name: 'MRZ expiry digit wrong',
      f: passportFacts(),
      number: 'L898902C3',
      mrz: tamper(goodTd3, 1, 27, '0'),
      expected: ['mrz_check_digit_expiry', 'mrz_check_digit_composite'],
    },
    {
      name: 'MRZ personal number digit wrong',
      f: passportFacts(),
      number: 'L898902C3',
      mrz: tamper(goodTd3, 1, 42, '9'),
      expected: ['mrz_check_digit_optional_data', 'mrz_check_digit_composite'],
    },
    {
      name: 'MRZ composite digit wrong',
      f: passportFacts(),
      number: 'L898902C3',
      mrz: tamper(goodTd3, 1, 43, String((Number(goodTd3.charAt(88)) + 1) % 10)),
      expected: ['mrz_check_digit_composite'],
    },
    {
      name: 'everything wrong at once: every reason, none twice',
      f: facts({ issuing_country: 'FRA', birth_date: '2020-01-01', expires_on: '2019-01-01' }),
      number: '1234567',
      mrz: 'not an mrz',
      expected: [
        'number_format_invalid',
        'country_not_allowed_for_type',
        'minor_without_guardian',
        'expiry_before_birth',
        'document_expired',
        'mrz_malformed',
      ],
    },
  ];
  for (const c of cases) {
    test(`${c.name} → ${c.expected.join(', ') || 'validated'}`, () =>
      assert.deepEqual(documentProblems(c.f, c.number, c.mrz, c.today ?? TODAY), c.expected));
  }

  test('every reason code is covered by a case above and fits the event schema (^[a-z][a-z0-9_]*$, ≤ 64)', () => {
    const seen = new Set<string>(cases.flatMap((c) => c.expected));
    const badDigits = [
      'mrz_check_digit_document_number',
      'mrz_check_digit_birth_date',
      'mrz_check_digit_expiry',
      'mrz_check_digit_composite',
    ];
    for (const code of badDigits) seen.add(code);
    for (const code of REASON_CODES) {
      assert.ok(seen.has(code), `no case answers ${code}`);
      assert.match(code, /^[a-z][a-z0-9_]*$/);
      assert.ok(code.length <= 64);
    }
    for (const code of seen) assert.ok((REASON_CODES as readonly string[]).includes(code), `${code} is not in REASON_CODES`);
  });
});

describe('the decider', () => {
  const submit = (over: Partial<DocumentFacts> = {}, number = '12345678Z') => {
    const { document_number_masked: _ignored, ...f } = facts(over);
    return { type: 'SubmitDocument' as const, data: { ...f, number } };
  };
  const validateCmd = (number = '12345678Z', mrz?: string) => ({
    type: 'ValidateDocument' as const,
    data: { document_id: 'doc-1', number, now: '2026-12-02T09:00:01.000Z', today: TODAY, ...(mrz === undefined ? {} : { mrz }) },
  });
  const pendingState = (over: Partial<DocumentFacts> = {}, number = '12345678Z'): DocumentState => {
    const d = decide(submit(over, number), NO_DOCUMENT);
    assert.ok(d.ok);
    return d.events.reduce(evolve, NO_DOCUMENT);
  };

  test('submit → DocumentSubmitted with the masked number only; pending', () => {
    const d = decide(submit({}, '12.345.678-z'), NO_DOCUMENT);
    assert.ok(d.ok);
    assert.equal(d.events[0]?.type, 'DocumentSubmitted');
    assert.equal(d.events[0]?.data.document_number_masked, '*****678Z');
    assert.ok(!JSON.stringify(d.events).includes('12345678'));
    assert.equal(d.events.reduce(evolve, NO_DOCUMENT).status, 'pending');
  });

  test('submitting an id twice → document_exists', () => {
    const d = decide(submit(), pendingState());
    assert.ok(!d.ok && d.errors[0].code === 'document_exists');
  });

  test('validate a good document → DocumentValidated with the masked number, expiry and country; validated', () => {
    const d = decide(validateCmd(), pendingState({ booking_id: 'bk-1' }));
    assert.ok(d.ok);
    assert.deepEqual(d.events, [
      {
        type: 'DocumentValidated',
        data: {
          document_id: 'doc-1',
          guest_id: 'g-1',
          booking_id: 'bk-1',
          document_type: 'dni',
          document_number_masked: '*****678Z',
          issuing_country: 'ESP',
          expires_on: '2031-05-20',
          validated_at: '2026-12-02T09:00:01.000Z',
        },
      },
    ]);
    const after = d.events.reduce(evolve, pendingState());
    assert.equal(after.status, 'validated');
  });

  test('validate a bad document → DocumentRejected with every reason (no number in it); rejected', () => {
    const d = decide(validateCmd('12345678A', 'garbage'), pendingState({ expires_on: '2020-01-01' }));
    assert.ok(d.ok);
    assert.equal(d.events[0]?.type, 'DocumentRejected');
    const data = d.events[0]?.data as { reasons: readonly string[] };
    assert.deepEqual(data.reasons, ['dni_check_letter_mismatch', 'document_expired', 'mrz_malformed']);
    assert.ok(!JSON.stringify(d.events).includes('12345678'));
    const after = d.events.reduce(evolve, pendingState());
    assert.ok(after.status === 'rejected' && after.reasons.length === 3);
  });

  test('validate twice: the second is ignored (document_already_decided); unknown → document_not_found', () => {
    const decided = decide(validateCmd(), pendingState());
    assert.ok(decided.ok);
    const again = decide(validateCmd(), decided.events.reduce(evolve, pendingState()));
    assert.ok(again.ok && again.events.length === 0 && again.ignored?.code === 'document_already_decided');
    const unknown = decide(validateCmd(), NO_DOCUMENT);
    assert.ok(!unknown.ok && unknown.errors[0].code === 'document_not_found');
  });
});
