import type { CommandResult } from '@albergue/application';
import { localDate } from '@albergue/application';
import { newEventId } from '@albergue/events';
import type { SubmitDocument } from '../domain/document.js';
import { decide, evolve, NO_DOCUMENT } from '../domain/document.js';
import type { DocumentType } from '../domain/identity-numbers.js';
import type { Clock, DocumentCipher, DocumentRecord, DocumentRepository, DocumentsConfig, DocumentView, IdGenerator } from './ports.js';
import { documentView } from './support.js';

export interface SubmitDocumentInput {
  readonly guest_id: string;
  readonly booking_id?: string;
  readonly document_type: DocumentType;
  readonly number: string;
  readonly issuing_country: string;
  readonly expires_on: string;
  readonly birth_date: string;
  readonly guardian_reference?: string;
  readonly mrz?: string;
  readonly command_id?: string;
  /** The flow the submission joins (x-correlation-id); a new one (its decision event's id) otherwise. */
  readonly correlation_id?: string;
}

export interface SubmitDocumentDeps {
  readonly repo: DocumentRepository;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly cipher: DocumentCipher;
  readonly config: DocumentsConfig;
}

/** The context a sealed value is bound to: its document and field. */
export const sealContext = (documentId: string, field: 'number' | 'mrz') => `document:${documentId}:${field}`;

/**
 * SubmitDocument: stores the submission — state in clear without the number, the number and the MRZ
 * sealed — in one transaction, status pending. No event yet: the validation (validate-documents.ts)
 * decides later and publishes DocumentValidated or DocumentRejected. The answer's `correlation_id` is
 * the flow that decision will join.
 */
export async function submitDocument(
  deps: SubmitDocumentDeps,
  input: SubmitDocumentInput,
): Promise<CommandResult<DocumentView & { readonly correlation_id: string }>> {
  const now = deps.clock.now();
  const document_id = deps.ids();
  const command: SubmitDocument = {
    type: 'SubmitDocument',
    data: {
      document_id,
      guest_id: input.guest_id,
      ...(input.booking_id === undefined ? {} : { booking_id: input.booking_id }),
      document_type: input.document_type,
      number: input.number,
      issuing_country: input.issuing_country,
      expires_on: input.expires_on,
      birth_date: input.birth_date,
      ...(input.guardian_reference === undefined ? {} : { guardian_reference: input.guardian_reference }),
      submitted_at: now.toISOString(),
      submitted_on: localDate(now, deps.config.timeZone),
    },
  };
  const decision = decide(command, NO_DOCUMENT);
  if (!decision.ok) return decision;
  const state = decision.events.reduce(evolve, NO_DOCUMENT);
  if (state.status === 'none') throw new Error('SubmitDocument accepted without an event');
  const decision_event_id = newEventId(); // an event id is a UUIDv7 whatever the document ids are
  const record: DocumentRecord = {
    state,
    number_sealed: deps.cipher.seal(input.number, sealContext(document_id, 'number')),
    ...(input.mrz === undefined ? {} : { mrz_sealed: deps.cipher.seal(input.mrz, sealContext(document_id, 'mrz')) }),
    key_id: deps.cipher.keyId,
    decision_event_id,
    correlation_id: input.correlation_id ?? decision_event_id,
    causation_id: input.command_id ?? decision_event_id,
  };
  await deps.repo.transaction((tx) => tx.insert(record));
  return { ok: true, value: { ...documentView(state), correlation_id: record.correlation_id }, events: [] };
}
