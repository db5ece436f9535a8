import { Type } from '@sinclair/typebox';
import { defineEvent } from '../define.js';
import { Id, StringEnum, Timestamp, Uuid } from '../primitives.js';

const Channel = StringEnum(['email', 'sms', 'push'] as const);

export const NotificationSent = defineEvent({
  context: 'notifications',
  name: 'NotificationSent',
  version: 1,
  aggregateType: 'notification',
  description: 'A message reached the guest channel provider.',
  aggregateId: (p) => p.notification_id,
  payload: Type.Object({
    notification_id: Id('Notification id.'),
    channel: Channel,
    template: Type.String({ minLength: 1, maxLength: 100 }),
    recipient_masked: Type.String({ maxLength: 320, description: 'Masked recipient, e.g. p***@example.org.' }),
    related_event_id: Uuid('Event that triggered the message.'),
    sent_at: Timestamp('When it was handed to the provider.'),
  }),
});

export const NotificationFailed = defineEvent({
  context: 'notifications',
  name: 'NotificationFailed',
  version: 1,
  aggregateType: 'notification',
  description: 'A message could not be delivered to the guest.',
  aggregateId: (p) => p.notification_id,
  payload: Type.Object({
    notification_id: Id('Notification id.'),
    channel: Channel,
    template: Type.String({ minLength: 1, maxLength: 100 }),
    related_event_id: Uuid('Event that triggered the message.'),
    error: Type.String({ maxLength: 1000 }),
    failed_at: Timestamp('When it failed.'),
  }),
});
