import { AuditLogged } from '@albergue/events';
import { declareService } from '@albergue/messaging';

/**
 * Audit: one wildcard subscription over every albergue event except its own AuditLogged (so the
 * trail never audits itself); the runtime subscribes once with `albergue/#`, the broker grants it.
 */
export const auditDeclaration = declareService({
  service: 'audit',
  context: 'audit',
  publishes: [AuditLogged],
  subscribes: [],
  subscribesAll: { filter: 'albergue/#', handler: 'recordOnAnyEvent', except: [AuditLogged] },
});
