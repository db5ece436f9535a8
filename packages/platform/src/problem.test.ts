import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pointer, problem, titleOf, unstorableText, unstorableTextProblems } from './problem.js';

describe('problem details helpers', () => {
  test('unstorable text: NUL and lone surrogates anywhere; pairs and ordinary text pass', () => {
    for (const ok of ['', 'Ana', 'Peregrino 🥾', '\uD83E\uDD7E', 'ñ€\u00FF', 'a\u0001b'])
      assert.equal(unstorableText(ok), undefined, JSON.stringify(ok));
    assert.equal(unstorableText('\u0000')?.code, 'nul_character');
    assert.equal(unstorableText('abc\u0000')?.code, 'nul_character');
    for (const bad of ['\uD800', 'x\uD800', '\uD800x', '\uDC00', 'a\uDFFFb', '\uDC00\uD800', '🥾\uD83E'])
      assert.equal(unstorableText(bad)?.code, 'lone_surrogate', JSON.stringify(bad));
  });

  test('every bad string and field name is found with its JSON Pointer (escaped), at any depth', () => {
    const found = unstorableTextProblems({ 'a/b': ['ok', 'x\u0000'], 'k~\u0000': 1, n: { m: '\uDC00' } }, '/body');
    assert.deepEqual(found.map((p) => [p.path, p.code]).sort(), [
      ['/body/a~1b/1', 'nul_character'],
      ['/body/k~0\uFFFD', 'nul_character'],
      ['/body/n/m', 'lone_surrogate'],
    ]);
    let deep: unknown = '\u0000';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    assert.equal(unstorableTextProblems(deep, '/body')[0]?.code, 'nul_character');
    const many = unstorableTextProblems(
      Array.from({ length: 1000 }, () => '\u0000'),
      '/body',
    );
    assert.equal(many.length, 20, 'bounded');
  });

  test('problem(): type URN from the code, fixed title, errors left out when empty', () => {
    assert.deepEqual(problem(409, 'no_beds_left', 'only 1 bed'), {
      type: 'urn:albergue:problem:no_beds_left',
      title: 'No beds left',
      status: 409,
      detail: 'only 1 bed',
      code: 'no_beds_left',
    });
    assert.equal(problem(400, 'invalid_request', 'x', []).errors, undefined);
    assert.equal(titleOf('invalid_json'), 'Malformed JSON body');
    assert.equal(pointer('body', 'a/b', 'c~d', 0), '/body/a~1b/c~0d/0');
  });
});
