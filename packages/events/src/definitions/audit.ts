import { Type } from '@sinclair/typebox';
import { defineEvent } from '../define.js';
import { Uuid, Timestamp } from '../primitives.js';

export const AuditLogged = defineEvent({
  context: 'audit',
  name: 'AuditLogged',
  version: 1,
  aggregateType: 'audit_entry',
  description: 'An event was appended to the audit trail.',
  aggregateId: (p) => p.audit_id,
  payload: Type.Object({
    audit_id: Type.String({ minLength: 1, maxLength: 128 }),
    audited_event_id: Uuid('The audited event.'),
    audited_event_type: Type.String({ minLength: 1, maxLength: 100 }),
    topic: Type.String({ minLength: 1, maxLength: 200 }),
    correlation_id: Uuid('Flow of the audited event.'),
    logged_at: Timestamp('When it was logged.'),
  }),
});
