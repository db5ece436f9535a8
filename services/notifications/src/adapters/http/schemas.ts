// TypeBox schemas of notifications' HTTP API: validation and the OpenAPI document come from these.
import { Type } from '@sinclair/typebox';
import { Id } from '@albergue/application/http';
import { TEMPLATE_NAMES } from '../../domain/templates.js';

export const NotificationListQuery = Type.Object(
  {
    booking_id: Type.Optional(Id('Only the notifications about this booking.')),
    guest_id: Type.Optional(Id('Only the notifications to this guest.')),
    // A digit string (query values are strings; parsed by the route, so it works with or without type coercion).
    limit: Type.Optional(
      Type.String({ pattern: '^(?:[1-9][0-9]{0,1}|[1-4][0-9]{2}|500)$', description: 'At most this many (1–500, default 100).' }),
    ),
  },
  { additionalProperties: false, description: 'At least one of booking_id and guest_id.' },
);

export const NotificationView = Type.Object({
  notification_id: Type.String({
    description: 'Derived from (related event, template): the same for every redelivery; also the mail’s Message-ID.',
  }),
  template: Type.Union(TEMPLATE_NAMES.map((t) => Type.Literal(t))),
  locale: Type.String({ description: 'Language the message was written in (es, en).' }),
  channel: Type.Literal('email'),
  recipient_masked: Type.Optional(Type.String({ description: 'e.g. a***@example.org; absent when no contact was known.' })),
  status: Type.Union([Type.Literal('sent'), Type.Literal('failed')]),
  related_event_id: Type.String(),
  related_event_type: Type.String(),
  booking_id: Type.Optional(Type.String()),
  guest_id: Type.Optional(Type.String()),
  correlation_id: Type.String(),
  message_id: Type.Optional(Type.String({ description: 'Message-ID header of the mail sent.' })),
  error: Type.Optional(Type.String({ description: 'Why it failed: no_contact, contact_forgotten or smtp_rejected, with details.' })),
  sent_at: Type.Optional(Type.String({ format: 'date-time' })),
  failed_at: Type.Optional(Type.String({ format: 'date-time' })),
});

export const NotificationList = Type.Object({ notifications: Type.Array(NotificationView) });

export const ContactParams = Type.Object({ guest_id: Id('Guest id.') });
export const ContactForgotten = Type.Object({
  guest_id: Type.String(),
  contact_erased: Type.Boolean({
    description: 'Whether a contact was known and is now erased (false: nothing was known; the tombstone is kept anyway).',
  }),
  forgotten_at: Type.String({ format: 'date-time' }),
});
