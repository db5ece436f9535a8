import type { AlbergueFilter, AlbergueQueries, AlbergueView, Clock, LocationConfig } from './ports.js';
import { localDate } from '@albergue/application';

type QueryDeps = { readonly queries: AlbergueQueries; readonly clock: Clock; readonly config: LocationConfig };

export function getAlbergue(deps: QueryDeps, albergueId: string): Promise<AlbergueView | undefined> {
  return deps.queries.findAlbergue(albergueId, localDate(deps.clock.now(), deps.config.timeZone));
}

export function listAlbergues(deps: QueryDeps, filter: AlbergueFilter = {}): Promise<AlbergueView[]> {
  return deps.queries.listAlbergues(filter, localDate(deps.clock.now(), deps.config.timeZone));
}
