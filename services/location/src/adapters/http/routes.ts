// Location's HTTP API as a Fastify plugin: register albergues, change capacity, list and get them.
import type { FastifyPluginAsync } from 'fastify';
import type { DecisionLog } from '@albergue/application';
import type { Static } from '@sinclair/typebox';
import { changeCapacity } from '../../application/change-capacity.js';
import type { AlbergueQueries, AlbergueRepository, Clock, IdGenerator, LocationConfig } from '../../application/ports.js';
import { getAlbergue, listAlbergues } from '../../application/queries.js';
import { registerAlbergue } from '../../application/register-albergue.js';
import type { CapacityBody, RegisterBody } from './schemas.js';
import * as S from './schemas.js';
import type { DomainErrorLike } from '@albergue/platform/http';
import { commandOf, problem, problemResponses, reportFlow, sendErrors, sendProblem, useStrictValidation } from '@albergue/platform/http';

export interface LocationHttpDeps {
  readonly repo: AlbergueRepository;
  readonly queries: AlbergueQueries;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly config: LocationConfig;
  readonly decisions?: DecisionLog;
}

/** HTTP status of each domain error code (400 broken rule, 404 no such albergue, 409 conflict with state). */
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

/** The input a domain error is about (JSON Pointer into the request). */
function locationPathOf(e: DomainErrorLike): string | undefined {
  switch (e.code) {
    case 'invalid_name':
      return '/body/name';
    case 'invalid_town':
      return '/body/town';
    case 'invalid_route':
      return '/body/route';
    case 'invalid_coordinates':
      return e.reason.startsWith('latitude') ? '/body/location/lat' : '/body/location/lon';
    case 'invalid_beds':
      return '/body/beds';
    case 'invalid_price':
      return '/body/nightly_price/amount_minor';
    case 'albergue_exists':
      return '/body/albergue_id';
    case 'albergue_not_found':
      return '/params/albergue_id';
    case 'invalid_date':
    case 'effective_from_in_past':
      return '/body/effective_from';
    default:
      return undefined;
  }
}

const mapping = { statusOf, pathOf: locationPathOf };

export function locationRoutes(deps: LocationHttpDeps): FastifyPluginAsync {
  return (app) => {
    useStrictValidation(app);

    app.post<{ Body: RegisterBody }>(
      '/albergues',
      {
        schema: {
          tags: ['albergues'],
          summary: 'Register an albergue',
          body: S.RegisterBody,
          response: { 201: S.AlbergueView, ...problemResponses(409, 422) },
        },
      },
      async (req, reply) => {
        const r = await registerAlbergue(deps, { ...req.body, ...commandOf(req) });
        if (!r.ok) return sendErrors(reply, mapping, r.errors);
        return reportFlow(reply, r.events).code(201).header('location', `/albergues/${r.value.albergue_id}`).send(r.value);
      },
    );

    app.post<{ Params: Static<typeof S.AlbergueParams>; Body: CapacityBody }>(
      '/albergues/:albergue_id/capacity',
      {
        schema: {
          tags: ['albergues'],
          summary: 'Change the number of beds from a night on (the same capacity again changes nothing)',
          params: S.AlbergueParams,
          body: S.CapacityBody,
          response: { 200: S.AlbergueView, ...problemResponses(404, 422) },
        },
      },
      async (req, reply) => {
        const input =
          req.body.effective_from === undefined
            ? { albergue_id: req.params.albergue_id, beds: req.body.beds, ...commandOf(req) }
            : { albergue_id: req.params.albergue_id, beds: req.body.beds, effective_from: req.body.effective_from, ...commandOf(req) };
        const r = await changeCapacity(deps, input);
        if (!r.ok) return sendErrors(reply, mapping, r.errors);
        return reportFlow(reply, r.events).send(r.value);
      },
    );

    app.get<{ Querystring: Static<typeof S.ListQuery> }>(
      '/albergues',
      {
        schema: {
          tags: ['albergues'],
          summary: 'Albergues, east to west',
          querystring: S.ListQuery,
          response: { 200: S.AlbergueList, ...problemResponses() },
        },
      },
      async (req) => {
        const filter = {
          ...(req.query.route === undefined ? {} : { route: req.query.route }),
          ...(req.query.town === undefined ? {} : { town: req.query.town }),
        };
        return { albergues: await listAlbergues(deps, filter) };
      },
    );

    app.get<{ Params: Static<typeof S.AlbergueParams> }>(
      '/albergues/:albergue_id',
      {
        schema: {
          tags: ['albergues'],
          summary: 'An albergue',
          params: S.AlbergueParams,
          response: { 200: S.AlbergueView, ...problemResponses(404) },
        },
      },
      async (req, reply) => {
        const view = await getAlbergue(deps, req.params.albergue_id);
        if (!view) {
          return sendProblem(
            reply,
            problem(404, 'albergue_not_found', `albergue ${req.params.albergue_id} does not exist`, [
              { path: '/params/albergue_id', message: 'no albergue has this id', code: 'albergue_not_found' },
            ]),
          );
        }
        return reply.send(view);
      },
    );
    return Promise.resolve();
  };
}
