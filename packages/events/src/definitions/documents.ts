import { Type } from '@sinclair/typebox';
import { defineEvent } from '../define.js';
import { DateOnly, DocumentType, Id, MaskedDocumentNumber, Timestamp } from '../primitives.js';

export const DocumentValidated = defineEvent({
  context: 'documents',
  name: 'DocumentValidated',
  version: 1,
  aggregateType: 'document',
  description: "A guest's identity document passed validation (the number travels masked).",
  aggregateId: (p) => p.document_id,
  payload: Type.Object({
    document_id: Id('Document id.'),
    guest_id: Id('Guest id.'),
    booking_id: Type.Optional(Id('Booking the document was submitted for.')),
    document_type: DocumentType,
    document_number_masked: MaskedDocumentNumber,
    issuing_country: Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 3166-1 alpha-3.' }),
    expires_on: DateOnly('Expiry date of the document.'),
    validated_at: Timestamp('When it was validated.'),
  }),
});

export const DocumentRejected = defineEvent({
  context: 'documents',
  name: 'DocumentRejected',
  version: 1,
  aggregateType: 'document',
  description: "A guest's identity document failed validation, with every reason.",
  aggregateId: (p) => p.document_id,
  payload: Type.Object({
    document_id: Id('Document id.'),
    guest_id: Id('Guest id.'),
    booking_id: Type.Optional(Id('Booking the document was submitted for.')),
    document_type: DocumentType,
    reasons: Type.Array(Type.String({ pattern: '^[a-z][a-z0-9_]*$', maxLength: 64 }), {
      minItems: 1,
      description: 'Reason codes, e.g. checksum_mismatch, expired.',
    }),
    rejected_at: Timestamp('When it was rejected.'),
  }),
});
