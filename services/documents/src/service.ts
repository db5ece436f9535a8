import { Counter, Gauge } from 'prom-client';
import type { Clock } from '@albergue/application';
import { systemClock, uuidV7Ids } from '@albergue/application';
import { ConfigError, createLogger, envInt, envOptional } from '@albergue/platform';
import type { ServiceRuntime, ServiceRuntimeOptions } from '@albergue/runtime';
import { createServiceRuntime } from '@albergue/runtime';
import { AesGcmDocumentCipher, encryptionKeyFromEnv } from './adapters/crypto/aes-gcm-document-cipher.js';
import { DOCUMENTS_MIGRATIONS } from './adapters/postgres/migrations.js';
import { PgDocumentQueries } from './adapters/postgres/pg-document-queries.js';
import { PgDocumentRepository } from './adapters/postgres/pg-document-repository.js';
import type { DocumentRepository } from './application/ports.js';
import { DEFAULT_DOCUMENTS_CONFIG } from './application/ports.js';
import type { ValidationRun } from './application/validate-documents.js';
import { validatePendingDocuments } from './application/validate-documents.js';
import { documentsDeclaration } from './declaration.js';
import { httpApi } from './http.js';

/** Log fields censored by the service's logger (top level and one level down, e.g. `body.number`). */
export const DOCUMENT_LOG_REDACTIONS = ['number', 'mrz', '*.number', '*.mrz', 'req.body.number', 'req.body.mrz'];

export interface DocumentsServiceOptions extends Partial<Pick<ServiceRuntimeOptions, 'env' | 'config' | 'logger' | 'ledger' | 'relay'>> {
  readonly clock?: Clock;
  /** Tests: wrap the repository (e.g. to crash a validation before its commit). */
  readonly wrapRepository?: (repo: DocumentRepository) => DocumentRepository;
}

export interface DocumentsService extends ServiceRuntime {
  /** Runs the validator now (also what each submission and the sweep do); resolves when this run ends. */
  validateNow(): Promise<ValidationRun>;
}

/**
 * The documents service wired: Postgres adapters, the AES-256-GCM cipher, HTTP routes and the validator.
 *
 * Validation is asynchronous: POST /documents commits the submission (pending) and answers 202; the
 * validator — woken by each submission on this instance, and a sweep every DOCUMENTS_VALIDATION_SWEEP_MS
 * (default 250) on every instance — claims pending documents with FOR UPDATE SKIP LOCKED and commits each
 * decision with its event in the outbox. A crash between submit and validate leaves the row pending for
 * the next sweep of any instance; two instances never decide one document twice.
 *
 * Environment: DOCUMENTS_ENCRYPTION_KEY (32 bytes, hex or base64; required with NODE_ENV=production),
 * DOCUMENTS_VALIDATION_SWEEP_MS, DOCUMENTS_VALIDATOR (`off`: this instance accepts and answers but leaves
 * validation to the others).
 */
export async function createDocumentsService(o: DocumentsServiceOptions = {}): Promise<DocumentsService> {
  const env = o.env ?? process.env;
  const cipher = new AesGcmDocumentCipher(encryptionKeyFromEnv(env));
  const sweepMs = envInt('DOCUMENTS_VALIDATION_SWEEP_MS', 250, { min: 10 }, env);
  const validatorMode = envOptional('DOCUMENTS_VALIDATOR', env) ?? 'on';
  if (validatorMode !== 'on' && validatorMode !== 'off')
    throw new ConfigError(`DOCUMENTS_VALIDATOR must be on or off, got "${validatorMode}"`);

  const rt = await createServiceRuntime({
    ...o,
    // Defence in depth: nothing logs the number or the MRZ, and a field of that name is censored if one ever does.
    logger: o.logger ?? createLogger('documents', { redact: { paths: DOCUMENT_LOG_REDACTIONS, censor: '[redacted]' } }),
    declaration: documentsDeclaration,
    defaultPort: 8104,
    migrations: DOCUMENTS_MIGRATIONS,
    description: "Guests' identity documents (DNI, NIE, passport): submitted, validated by real rules, numbers kept encrypted.",
  });
  const clock = o.clock ?? systemClock;
  const log = rt.logger;
  const pgRepo = new PgDocumentRepository(rt.db, rt.outbox);
  const repo = o.wrapRepository ? o.wrapRepository(pgRepo) : pgRepo;
  const queries = new PgDocumentQueries(rt.db);
  const config = DEFAULT_DOCUMENTS_CONFIG;

  const decided = new Counter({
    name: 'documents_decided_total',
    help: 'Documents decided by this instance, by status (validated, rejected).',
    labelNames: ['status'] as const,
    registers: [rt.metrics],
  });
  const failures = new Counter({
    name: 'documents_validation_failures_total',
    help: 'Validations that failed (the document stays pending and is tried again), e.g. sealed with another key.',
    registers: [rt.metrics],
  });
  new Gauge({
    name: 'documents_pending',
    help: 'Documents submitted and not yet decided.',
    registers: [rt.metrics],
    async collect() {
      const { rows } = await rt.db.query<{ n: string | number }>(`SELECT count(*) AS n FROM documents WHERE status = 'pending'`);
      this.set(Number(rows[0]?.n ?? 0));
    },
  });

  const validateOnce = () =>
    validatePendingDocuments({
      repo,
      clock,
      cipher,
      config,
      onDecided: (record, envelope) => {
        decided.inc({ status: record.state.status });
        log.info(
          {
            document_id: record.state.facts.document_id,
            status: record.state.status,
            reasons: record.state.status === 'pending' ? [] : record.state.reasons,
            event_id: envelope.event_id,
            correlation_id: envelope.correlation_id,
          },
          `document ${record.state.status}`,
        );
      },
      onFailed: (documentId, err) => {
        failures.inc();
        log.error({ err, document_id: documentId }, 'document could not be validated; it stays pending and is tried again');
      },
    });

  // One run at a time per instance; a wake-up during a run makes it go round once more.
  let running: Promise<ValidationRun> | undefined;
  let again = false;
  let closed = false;
  const validateNow = (): Promise<ValidationRun> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      let total: ValidationRun = { validated: 0, rejected: 0, failed: 0 };
      do {
        again = false;
        const r = await validateOnce();
        total = { validated: total.validated + r.validated, rejected: total.rejected + r.rejected, failed: total.failed + r.failed };
      } while (again && !closed);
      return total;
    })().finally(() => {
      running = undefined;
    });
    return running;
  };
  const wake = () => {
    if (closed || validatorMode === 'off') return;
    validateNow().catch((err: unknown) => log.error({ err }, 'document validation run failed; the sweep tries again'));
  };

  if (validatorMode === 'on') rt.every('validate-documents', sweepMs, () => validateNow());
  await rt.http.register(httpApi({ repo, queries, clock, ids: uuidV7Ids, cipher, config, onSubmitted: wake }));

  const close = rt.close.bind(rt);
  return Object.assign(rt, {
    validateNow,
    async close() {
      closed = true;
      await running?.catch(() => undefined);
      await close();
    },
  });
}
