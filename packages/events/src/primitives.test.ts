import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { DocumentValidated, maskDocumentNumber, maskEmail, newEnvelope } from './index.js';
import { SAMPLE_PAYLOADS } from './node.js';

test('document numbers are masked to their last four characters', () => {
  assert.equal(maskDocumentNumber('12345678Z'), '*****678Z');
  assert.equal(maskDocumentNumber('x1234567-L'), '****567L'.replace(/^/, '*'));
  assert.equal(maskDocumentNumber('AB1'), '***');
  assert.equal(maskEmail('ana@example.org'), 'a***@example.org');
  assert.equal(maskEmail('broken'), '***');
});

test('a DocumentValidated event refuses a full document number', () => {
  assert.throws(
    () => newEnvelope(DocumentValidated, { ...SAMPLE_PAYLOADS.DocumentValidated, document_number_masked: '12345678Z' }),
    /document_number_masked/,
  );
  assert.ok(
    newEnvelope(DocumentValidated, { ...SAMPLE_PAYLOADS.DocumentValidated, document_number_masked: maskDocumentNumber('12345678Z') }),
  );
});
