// What documents' handlers share: the envelope mapping, the view of a document.
import type { EventEnvelope } from '@albergue/events';
import { DocumentRejected, DocumentValidated } from '@albergue/events';
import { envelopeMapping } from '@albergue/application';
import type { DocumentEvent } from '../domain/document.js';
import type { DocumentRecord, DocumentView } from './ports.js';

const toEnvelope = envelopeMapping({ DocumentValidated, DocumentRejected });

/**
 * The envelope of a decision event, with the metadata fixed when the document was submitted: its
 * event_id (so the flow a submission started is named by the id of its first published event, as every
 * new flow is), the flow and the submitting command as its cause. DocumentSubmitted stays internal.
 */
export function decisionEnvelope(event: DocumentEvent, record: DocumentRecord): EventEnvelope | undefined {
  if (event.type === 'DocumentSubmitted') return undefined;
  return toEnvelope(event, {
    event_id: record.decision_event_id,
    correlation_id: record.correlation_id,
    causation_id: record.causation_id,
  });
}

export function documentView(state: DocumentRecord['state']): DocumentView {
  const f = state.facts;
  return {
    document_id: f.document_id,
    guest_id: f.guest_id,
    ...(f.booking_id === undefined ? {} : { booking_id: f.booking_id }),
    document_type: f.document_type,
    document_number_masked: f.document_number_masked,
    issuing_country: f.issuing_country,
    expires_on: f.expires_on,
    status: state.status,
    reasons: state.status === 'pending' ? [] : [...state.reasons],
    submitted_at: f.submitted_at,
    ...(state.status === 'pending' ? {} : { decided_at: state.decided_at }),
  };
}
