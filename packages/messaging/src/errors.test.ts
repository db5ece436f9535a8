import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { PermanentError, permanentErrorOf } from './errors.js';

test('PermanentError carries a snake_case reason code; it is recognised directly, wrapped as a cause, or from another copy of the package', () => {
  const e = new PermanentError('booking bk-9 does not exist', { code: 'unknown_booking' });
  assert.equal(e.code, 'unknown_booking');
  assert.deepEqual(permanentErrorOf(e), { code: 'unknown_booking', message: 'booking bk-9 does not exist' });
  assert.equal(new PermanentError('x', 'short_form').code, 'short_form');
  assert.equal(new PermanentError('x').code, 'permanent_error');
  const reversed = new PermanentError('booking_cancelled', 'booking bk-1 is cancelled');
  assert.equal(reversed.code, 'booking_cancelled');
  assert.equal(reversed.message, 'booking bk-1 is cancelled');
  assert.equal(new PermanentError('x', { reason: 'by_reason' }).reason, 'by_reason');
  assert.deepEqual(permanentErrorOf(new Error('tx failed', { cause: e })), {
    code: 'unknown_booking',
    message: 'booking bk-9 does not exist',
  });
  const foreign = Object.assign(new Error('other copy'), { permanent: true, code: 'rule_refused' });
  assert.deepEqual(permanentErrorOf(foreign), { code: 'rule_refused', message: 'other copy' });
  for (const transient of [new Error('ECONNREFUSED'), 'a string', undefined, null, { permanent: 'yes' }])
    assert.equal(permanentErrorOf(transient), undefined);
});

test('a bad code never makes the constructor throw (that would turn poison into a transient failure): it is normalised', () => {
  assert.equal(new PermanentError('x', { code: 'Not Snake-Case!' }).code, 'not_snake_case_');
  assert.equal(new PermanentError('x', { code: '' }).code, 'permanent_error');
  assert.equal(new PermanentError('x', { code: '123' }).code, 'permanent_error');
  assert.equal(new PermanentError('x', { code: 'a'.repeat(200) }).code.length, 64);
  // A cyclic cause chain ends.
  const a: Error & { cause?: unknown } = new Error('a');
  a.cause = a;
  assert.equal(permanentErrorOf(a), undefined);
});
