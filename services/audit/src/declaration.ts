import { AuditLogged } from '@albergue/events';
import { declareService } from '@albergue/messaging';

/**
 * Audit: one wildcard subscription over every albergue event except its own AuditLogged (so the
 * trail never audits itself); the runtime subscribes once with `albergue/#`, the broker grants it.
 * Its handler writes AuditLogged to the outbox for each event it appends (`emits`).
 */
export const auditDeclaration = declareService({
  service: 'audit',
  context: 'audit',
  publishes: [AuditLogged],
  subscribes: [],
  subscribesAll: { filter: 'albergue/#', handler: 'recordOnAnyEvent', except: [AuditLogged], emits: [AuditLogged] },
});
