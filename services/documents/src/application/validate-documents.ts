import { localDate } from '@albergue/application';
import type { EventEnvelope } from '@albergue/events';
import type { ValidateDocument } from '../domain/document.js';
import { decide, evolve } from '../domain/document.js';
import type { Clock, DocumentCipher, DocumentRecord, DocumentRepository, DocumentsConfig } from './ports.js';
import { sealContext } from './submit-document.js';
import { decisionEnvelope } from './support.js';

export interface ValidateDocumentsDeps {
  readonly repo: DocumentRepository;
  readonly clock: Clock;
  readonly cipher: DocumentCipher;
  readonly config: DocumentsConfig;
  /** Told about each decision (metrics, logs): never with the number. */
  readonly onDecided?: (record: DocumentRecord, envelope: EventEnvelope) => void;
  /** Told about a document that could not be validated now (it stays pending and is tried again later). */
  readonly onFailed?: (documentId: string, err: unknown) => void;
}

export interface ValidationRun {
  readonly validated: number;
  readonly rejected: number;
  readonly failed: number;
}

/**
 * Validates pending documents, oldest first, up to `limit`, each in its own transaction: claim it
 * (`FOR UPDATE SKIP LOCKED`, so two instances never take the same one), open its number and MRZ, run
 * the rules, store the decision (the MRZ is dropped) and append DocumentValidated or DocumentRejected to
 * the outbox — one commit, so each document is decided and published exactly once, and a crash before
 * the commit leaves it pending for the next run (of any instance). A document that fails (e.g. sealed
 * with another key) is reported, stays pending and is skipped for the rest of this run.
 */
export async function validatePendingDocuments(deps: ValidateDocumentsDeps, limit = 100): Promise<ValidationRun> {
  const failedIds: string[] = [];
  let validated = 0;
  let rejected = 0;
  for (let i = 0; i < limit; i++) {
    let claimedId: string | undefined;
    try {
      const outcome = await deps.repo.transaction(async (tx) => {
        const record = await tx.claimPending(failedIds);
        if (!record) return 'none' as const;
        claimedId = record.state.facts.document_id;
        const now = deps.clock.now();
        const id = record.state.facts.document_id;
        const command: ValidateDocument = {
          type: 'ValidateDocument',
          data: {
            document_id: id,
            number: deps.cipher.open(record.number_sealed, sealContext(id, 'number')),
            ...(record.mrz_sealed === undefined ? {} : { mrz: deps.cipher.open(record.mrz_sealed, sealContext(id, 'mrz')) }),
            now: now.toISOString(),
            today: localDate(now, deps.config.timeZone),
          },
        };
        const decision = decide(command, record.state);
        if (!decision.ok || decision.events.length === 0) {
          // Only a decided document answers this, and claimPending takes pending ones only.
          const why = decision.ok ? decision.ignored : decision.errors[0];
          throw new Error(`document ${id} could not be decided: ${why?.code ?? 'no event'}`);
        }
        const state = decision.events.reduce(evolve, record.state);
        if (state.status === 'none') throw new Error(`document ${id} has no state after its decision`);
        const { mrz_sealed: _dropped, ...kept } = record;
        const updated: DocumentRecord = { ...kept, state };
        const envelopes = decision.events.map((e) => decisionEnvelope(e, record)).filter((e): e is EventEnvelope => e !== undefined);
        await tx.update(updated);
        await tx.appendToOutbox(envelopes);
        const envelope = envelopes[0];
        if (!envelope) throw new Error(`document ${id} decided without an event`);
        return { record: updated, envelope };
      });
      if (outcome === 'none') break;
      if (outcome.envelope.event_type === 'DocumentValidated') validated++;
      else rejected++;
      deps.onDecided?.(outcome.record, outcome.envelope);
    } catch (err) {
      if (claimedId === undefined) throw err; // the claim itself failed (database down): the next run tries again
      failedIds.push(claimedId);
      deps.onFailed?.(claimedId, err);
    }
  }
  return { validated, rejected, failed: failedIds.length };
}
