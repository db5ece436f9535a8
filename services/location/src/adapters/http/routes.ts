// Location's HTTP API as a Fastify plugin: register albergues, change capacity, list and get them.
import type { FastifyPluginAsync } from 'fastify';
import type { Static } from '@sinclair/typebox';
import { changeCapacity } from '../../application/change-capacity';
import type { AlbergueQueries, AlbergueRepository, Clock, IdGenerator, LocationConfig } from '../../application/ports';
import { getAlbergue, listAlbergues } from '../../application/queries';
import { registerAlbergue } from '../../application/register-albergue';
import type { CapacityBody, RegisterBody } from './schemas';
import * as S from './schemas';
import { ErrorBody, sendErrors, useStrictValidation } from '@albergue/platform/http';

export interface LocationHttpDeps {
  readonly repo: AlbergueRepository;
  readonly queries: AlbergueQueries;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly config: LocationConfig;
}

export function statusOf(code: string): number {
  switch (code) {
    case 'albergue_not_found':
      return 404;
    case 'albergue_exists':
      return 409;
    default:
      return 400;
  }
}

export function locationRoutes(deps: LocationHttpDeps): FastifyPluginAsync {
  return (app) => {
    useStrictValidation(app);

    app.post<{ Body: RegisterBody }>('/albergues', {
      schema: { tags: ['albergues'], summary: 'Register an albergue', body: S.RegisterBody, response: { 201: S.AlbergueView, 400: ErrorBody, 409: ErrorBody } },
    }, async (req, reply) => {
      const r = await registerAlbergue(deps, { ...req.body, command_id: req.id });
      if (!r.ok) return sendErrors(reply, statusOf, r.errors);
      return reply.code(201).header('location', `/albergues/${r.value.albergue_id}`).send(r.value);
    });

    app.post<{ Params: Static<typeof S.AlbergueParams>; Body: CapacityBody }>('/albergues/:albergue_id/capacity', {
      schema: {
        tags: ['albergues'],
        summary: 'Change the number of beds from a night on (the same capacity again changes nothing)',
        params: S.AlbergueParams,
        body: S.CapacityBody,
        response: { 200: S.AlbergueView, 400: ErrorBody, 404: ErrorBody },
      },
    }, async (req, reply) => {
      const input = req.body.effective_from === undefined
        ? { albergue_id: req.params.albergue_id, beds: req.body.beds, command_id: req.id }
        : { albergue_id: req.params.albergue_id, beds: req.body.beds, effective_from: req.body.effective_from, command_id: req.id };
      const r = await changeCapacity(deps, input);
      if (!r.ok) return sendErrors(reply, statusOf, r.errors);
      return reply.send(r.value);
    });

    app.get<{ Querystring: Static<typeof S.ListQuery> }>('/albergues', {
      schema: { tags: ['albergues'], summary: 'Albergues, east to west', querystring: S.ListQuery, response: { 200: S.AlbergueList } },
    }, async (req) => {
      const filter = { ...(req.query.route === undefined ? {} : { route: req.query.route }), ...(req.query.town === undefined ? {} : { town: req.query.town }) };
      return { albergues: await listAlbergues(deps, filter) };
    });

    app.get<{ Params: Static<typeof S.AlbergueParams> }>('/albergues/:albergue_id', {
      schema: { tags: ['albergues'], summary: 'An albergue', params: S.AlbergueParams, response: { 200: S.AlbergueView, 404: ErrorBody } },
    }, async (req, reply) => {
      const view = await getAlbergue(deps, req.params.albergue_id);
      if (!view) return reply.code(404).send({ error: 'albergue_not_found', message: `albergue ${req.params.albergue_id} does not exist` });
      return reply.send(view);
    });
    return Promise.resolve();
  };
}
