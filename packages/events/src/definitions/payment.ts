import { Type } from '@sinclair/typebox';
import { defineEvent } from '../define';
import { Id, Money, Timestamp } from '../primitives';

export const PaymentInitiated = defineEvent({
  context: 'payment',
  name: 'PaymentInitiated',
  version: 1,
  aggregateType: 'payment',
  description: 'A payment for a reserved booking was started with a provider.',
  aggregateId: (p) => p.payment_id,
  payload: Type.Object({
    payment_id: Id('Payment id.'),
    booking_id: Id('Booking paid for.'),
    amount: Money,
    provider: Type.String({ minLength: 1, maxLength: 64 }),
    initiated_at: Timestamp('When it started.'),
  }),
});

export const PaymentConfirmed = defineEvent({
  context: 'payment',
  name: 'PaymentConfirmed',
  version: 1,
  aggregateType: 'payment',
  description: 'The provider settled the payment.',
  aggregateId: (p) => p.payment_id,
  payload: Type.Object({
    payment_id: Id('Payment id.'),
    booking_id: Id('Booking paid for.'),
    amount: Money,
    provider_reference: Type.String({ minLength: 1, maxLength: 128 }),
    confirmed_at: Timestamp('When it settled.'),
  }),
});

export const PaymentFailed = defineEvent({
  context: 'payment',
  name: 'PaymentFailed',
  version: 1,
  aggregateType: 'payment',
  description: 'The provider declined the payment or it could not complete.',
  aggregateId: (p) => p.payment_id,
  payload: Type.Object({
    payment_id: Id('Payment id.'),
    booking_id: Id('Booking paid for.'),
    reason_code: Type.String({ pattern: '^[a-z][a-z0-9_]*$', maxLength: 64, description: 'Machine-readable reason, e.g. card_declined.' }),
    reason: Type.String({ maxLength: 500 }),
    failed_at: Timestamp('When it failed.'),
  }),
});
