// TypeBox schemas of documents' HTTP API: validation and the OpenAPI document come from these.
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { DateOnly, Id } from '@albergue/application/http';
// The event's own enum (dni, nie, passport): a type valid in a request is valid in its event.
import { DocumentType } from '@albergue/events';

/** Longest number accepted at the edge (with the spaces and dots people type); longer is a 400. */
const MAX_NUMBER_LENGTH = 32;
/** A TD3 MRZ is 2 × 44 characters plus a line break; room for CRLF and trailing spaces, no more. */
const MAX_MRZ_LENGTH = 128;

export const SubmitBody = Type.Object(
  {
    guest_id: Id('The guest the document belongs to.'),
    booking_id: Type.Optional(Id('The booking it is submitted for.')),
    document_type: DocumentType,
    number: Type.String({
      minLength: 1,
      maxLength: MAX_NUMBER_LENGTH,
      description: 'The document number as printed (spaces, dots and hyphens are ignored). Stored encrypted; answered masked only.',
    }),
    issuing_country: Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 3166-1 alpha-3 of the issuer, e.g. ESP.' }),
    expires_on: DateOnly('Expiry date printed on the document.'),
    birth_date: DateOnly("The guest's date of birth."),
    guardian_reference: Type.Optional(
      Type.String({ minLength: 1, maxLength: 128, description: 'Who answers for a guest under 14 (required for them).' }),
    ),
    mrz: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: MAX_MRZ_LENGTH,
        description: 'ICAO 9303 machine readable zone, lines joined by "\\n": TD3 (2 × 44) or TD1 (3 × 30). Stored encrypted.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type SubmitBody = Static<typeof SubmitBody>;

export const DocumentParams = Type.Object({ document_id: Id('Document id.') });
export const BookingParams = Type.Object({ booking_id: Id('Booking id.') });

export const DocumentView = Type.Object({
  document_id: Type.String(),
  guest_id: Type.String(),
  booking_id: Type.Optional(Type.String()),
  document_type: Type.String(),
  document_number_masked: Type.String({ description: 'e.g. *****678Z: never the full number.' }),
  issuing_country: Type.String(),
  expires_on: Type.String({ format: 'date' }),
  status: Type.Union([Type.Literal('pending'), Type.Literal('validated'), Type.Literal('rejected')]),
  reasons: Type.Array(Type.String(), { description: 'Reason codes of a rejection (docs/documents.md); empty otherwise.' }),
  submitted_at: Type.String({ format: 'date-time' }),
  decided_at: Type.Optional(Type.String({ format: 'date-time' })),
});
export const DocumentList = Type.Object({ documents: Type.Array(DocumentView) });
