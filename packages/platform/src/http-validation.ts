// Request validation for HTTP routes: every problem listed (ajv allErrors), one error shape for
// everything the HTTP layer refuses. Installed per routes plugin, so it does not depend on how the
// Fastify instance was created.
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { Type } from '@sinclair/typebox';

// ajv-formats is CommonJS with a default export; normalise the interop shape once.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule);

export const Problem = Type.Object({ path: Type.String(), message: Type.String() });

/** Every refusal: a machine code, a human message, and for bad input every problem. */
export const ErrorBody = Type.Object({
  error: Type.String({ description: 'Machine-readable code, e.g. no_beds_left.' }),
  message: Type.String({ description: 'What went wrong, for a person.' }),
  problems: Type.Optional(Type.Array(Problem)),
}, { description: 'An error.' });

/** Installs the all-errors validator and the error handler on `app` (a routes plugin's scope). */
export function useStrictValidation(app: FastifyInstance): void {
  const ajv = new Ajv({ allErrors: true, coerceTypes: 'array', useDefaults: true, removeAdditional: false, strict: false });
  addFormats(ajv);
  app.setValidatorCompiler(({ schema }) => ajv.compile(schema));
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err.validation) {
      const where = err.validationContext ?? 'body';
      const problems = err.validation.map((v) => {
        const params = v.params;
        const path = `/${where}${v.instancePath}`;
        if (v.keyword === 'required') return { path, message: `missing required field "${String(params.missingProperty)}"` };
        if (v.keyword === 'additionalProperties') return { path, message: `unknown field "${String(params.additionalProperty)}"` };
        return { path, message: v.message ?? v.keyword };
      });
      return reply.code(400).send({ error: 'invalid_request', message: problems.map((p) => `${p.path}: ${p.message}`).join('; '), problems });
    }
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) return reply.code(status).send({ error: err.code ?? 'bad_request', message: err.message });
    req.log.error({ err }, 'request failed');
    return reply.code(500).send({ error: 'internal_error', message: 'the request could not be completed' });
  });
}

/** Sends domain errors: status from the first error's code, every reason listed. */
export function sendErrors(reply: FastifyReply, statusOf: (code: string) => number, errors: readonly { readonly code: string; readonly reason: string }[]): FastifyReply {
  const first = errors[0];
  return reply.code(first ? statusOf(first.code) : 400).send({
    error: first?.code ?? 'invalid_request',
    message: errors.map((e) => e.reason).join('; '),
    problems: errors.map((e) => ({ path: `/${e.code}`, message: e.reason })),
  });
}
