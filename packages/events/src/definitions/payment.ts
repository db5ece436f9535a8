import { Type } from '@sinclair/typebox';
import { defineEvent } from '../define.js';
import { CURRENCY_PATTERN, Id, Money, Timestamp } from '../primitives.js';

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

export const PaymentRefunded = defineEvent({
  context: 'payment',
  name: 'PaymentRefunded',
  version: 1,
  aggregateType: 'payment',
  description:
    'Money taken by a charge was given back: the booking ended (cancelled or expired), the charge settled after the payment had failed or been voided, or it was a second charge of a payment already settled.',
  aggregateId: (p) => p.payment_id,
  payload: Type.Object({
    payment_id: Id('Payment id.'),
    booking_id: Id('Booking the charge was for.'),
    amount: Type.Integer({ minimum: 0, description: 'Amount refunded, in the currency minor unit (cents).' }),
    currency: Type.String({ pattern: CURRENCY_PATTERN, description: 'ISO 4217 code, e.g. EUR.' }),
    reason: Type.String({
      pattern: '^[a-z][a-z0-9_]*$',
      maxLength: 64,
      description:
        'Why: booking_cancelled, booking_expired (the booking ended; also a payment confirmed after the hold), settled_after_failure, settled_after_void, duplicate_charge (a success that settled nothing).',
    }),
    provider_reference: Type.String({ minLength: 1, maxLength: 128, description: "The provider's reference of the charge refunded." }),
    refund_reference: Type.String({ minLength: 1, maxLength: 128, description: "The provider's reference of the refund." }),
    refunded_at: Timestamp('When the provider refunded it.'),
  }),
});
