// Documents' HTTP API as a Fastify plugin: submit a document (validated asynchronously), read its status.
//
// The number and the MRZ never leave this plugin except sealed: the JSON parser's errors do not quote
// the body, validation problems name fields not values, and before the runtime's Idempotency-Key layer
// fingerprints the request both are replaced by their keyed hash (so not even a SHA-256 of the number is
// stored in idempotency_keys). Fastify logs no bodies.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Static } from '@sinclair/typebox';
import { commandOf, problem, problemResponses, sendErrors, sendProblem, useStrictValidation } from '@albergue/platform/http';
import { CORRELATION_ID_HEADER } from '@albergue/platform/http';
import type { Clock, DocumentCipher, DocumentQueries, DocumentRepository, DocumentsConfig, IdGenerator } from '../../application/ports.js';
import { getDocument, listBookingDocuments } from '../../application/queries.js';
import { submitDocument } from '../../application/submit-document.js';
import type { SubmitBody } from './schemas.js';
import * as S from './schemas.js';

export interface DocumentsHttpDeps {
  readonly repo: DocumentRepository;
  readonly queries: DocumentQueries;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly cipher: DocumentCipher;
  readonly config: DocumentsConfig;
  /** Called once a submission is committed and answered (the composition root wakes the validator). */
  readonly onSubmitted?: () => void;
}

/** HTTP status of each domain error code. */
export function statusOf(code: string): number {
  return code === 'document_not_found' ? 404 : code === 'document_exists' ? 409 : 400;
}

interface Secrets {
  readonly number: string;
  readonly mrz?: string;
}

export function documentsRoutes(deps: DocumentsHttpDeps): FastifyPluginAsync {
  const secrets = new WeakMap<FastifyRequest, Secrets>();
  return (app) => {
    useStrictValidation(app);

    // Fastify's parser error quotes the body ("Unexpected token … in "{"number":"…"), which would put
    // the number in the problem: this one says where, never what.
    if (app.hasContentTypeParser('application/json')) app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
      const text = body as string;
      if (text.trim() === '') {
        done(Object.assign(new Error('the body is empty'), { statusCode: 400, code: 'FST_ERR_CTP_EMPTY_JSON_BODY' }), undefined);
        return;
      }
      try {
        done(null, JSON.parse(text));
      } catch {
        done(
          Object.assign(new Error('not valid JSON (the body is not quoted back)'), { statusCode: 400, code: 'invalid_json' }),
          undefined,
        );
      }
    });

    app.post<{ Body: SubmitBody }>(
      '/documents',
      {
        schema: {
          tags: ['documents'],
          summary: "Submit a guest's identity document (validated asynchronously: poll GET /documents/{document_id})",
          body: S.SubmitBody,
          response: { 202: S.DocumentView, ...problemResponses(422) },
        },
        // The Idempotency-Key fingerprint must not be a plain hash of the number: swap in its keyed hash.
        preHandler: (req, _reply, done) => {
          const body = req.body;
          secrets.set(req, { number: body.number, ...(body.mrz === undefined ? {} : { mrz: body.mrz }) });
          body.number = `hmac:${deps.cipher.blindIndex(body.number)}`;
          if (body.mrz !== undefined) body.mrz = `hmac:${deps.cipher.blindIndex(body.mrz)}`;
          done();
        },
        onResponse: (_req, reply, done) => {
          if (reply.statusCode === 202) deps.onSubmitted?.();
          done();
        },
      },
      async (req, reply) => {
        const secret = secrets.get(req);
        if (!secret) throw new Error('documents: the request lost its number');
        const { number: _n, mrz: _m, ...rest } = req.body;
        const r = await submitDocument(deps, { ...rest, ...secret, ...commandOf(req) });
        if (!r.ok) return sendErrors(reply, statusOf, r.errors);
        const { correlation_id, ...view } = r.value;
        return reply
          .code(202)
          .header('location', `/documents/${view.document_id}`)
          .header(CORRELATION_ID_HEADER, correlation_id)
          .send(view);
      },
    );

    app.get<{ Params: Static<typeof S.DocumentParams> }>(
      '/documents/:document_id',
      {
        schema: {
          tags: ['documents'],
          summary: 'A document: its status (pending, validated, rejected) and the reasons of a rejection',
          params: S.DocumentParams,
          response: { 200: S.DocumentView, ...problemResponses(404) },
        },
      },
      async (req, reply) => {
        const view = await getDocument(deps, req.params.document_id);
        if (!view) {
          return sendProblem(
            reply,
            problem(404, 'document_not_found', `document ${req.params.document_id} does not exist`, [
              { path: '/params/document_id', message: 'no document has this id', code: 'document_not_found' },
            ]),
          );
        }
        return reply.send(view);
      },
    );

    app.get<{ Params: Static<typeof S.BookingParams> }>(
      '/bookings/:booking_id/documents',
      {
        schema: {
          tags: ['documents'],
          summary: 'The documents submitted for a booking, oldest first (an empty list when none: documents does not know bookings)',
          params: S.BookingParams,
          response: { 200: S.DocumentList, ...problemResponses() },
        },
      },
      async (req) => ({ documents: await listBookingDocuments(deps, req.params.booking_id) }),
    );
    return Promise.resolve();
  };
}
