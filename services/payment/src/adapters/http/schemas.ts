// TypeBox schemas of payment's HTTP API: validation and the OpenAPI document come from these.
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { Id, Money } from '@albergue/application/http';

export const PaymentParams = Type.Object({ payment_id: Id('Payment id.') });
export const BookingParams = Type.Object({ booking_id: Id('Booking id.') });
/** Longest long-poll, in seconds: below the gateway's default upstream timeout (GATEWAY_UPSTREAM_TIMEOUT_MS, 30 s). */
const MAX_WAIT_SECONDS = 20;
export const PaymentOfBookingQuery = Type.Object(
  {
    // A digit string (query values are strings; parsed by the route, so it works with or without type coercion).
    wait: Type.Optional(
      Type.String({
        pattern: '^(?:[0-9]|1[0-9]|20)$',
        description: `Long-poll: wait up to this many seconds (0–${MAX_WAIT_SECONDS}) for the payment to exist before answering 404, instead of polling. The answer comes as soon as the payment is initiated. 503 with Retry-After when too many requests are waiting already.`,
      }),
    ),
  },
  { additionalProperties: false },
);

export const ChargeBody = Type.Object(
  {
    payment_method: Type.String({
      minLength: 1,
      maxLength: 256,
      description:
        'Simulated card network: a test card number (4242 4242 4242 4242 succeeds; 4000 0000 0000 0002 is declined; 4000 0000 0000 9995 has insufficient funds). A real provider: its payment-method token.',
    }),
  },
  { additionalProperties: false },
);
export type ChargeBody = Static<typeof ChargeBody>;

export const Settlement = Type.Object(
  {
    payment_id: Id('Our payment id (the merchant reference).'),
    provider_reference: Type.String({ minLength: 1, maxLength: 128 }),
    idempotency_key: Type.Optional(
      Type.String({ minLength: 1, maxLength: 128, description: 'The idempotency key the charge was made with (our charge attempt id).' }),
    ),
    outcome: Type.Union([
      Type.Object({ status: Type.Literal('succeeded') }, { additionalProperties: false }),
      Type.Object(
        {
          status: Type.Literal('failed'),
          reason_code: Type.String({ pattern: '^[a-z][a-z0-9_]*$', maxLength: 64 }),
          reason: Type.String({ maxLength: 500 }),
        },
        { additionalProperties: false },
      ),
    ]),
  },
  { additionalProperties: false, description: 'The provider settlement callback (webhook).' },
);
export type Settlement = Static<typeof Settlement>;

export const PaymentView = Type.Object({
  payment_id: Type.String(),
  booking_id: Type.String(),
  status: Type.Union(['initiated', 'confirmed', 'failed', 'voided', 'refund_pending', 'refunded'].map((s) => Type.Literal(s))),
  amount: Money,
  provider: Type.String(),
  initiated_at: Type.String({ format: 'date-time' }),
  provider_reference: Type.Optional(Type.String()),
  confirmed_at: Type.Optional(Type.String({ format: 'date-time' })),
  reason_code: Type.Optional(Type.String()),
  reason: Type.Optional(Type.String()),
  failed_at: Type.Optional(Type.String({ format: 'date-time' })),
  voided_at: Type.Optional(Type.String({ format: 'date-time' })),
  refund_reference: Type.Optional(Type.String()),
  refunded_at: Type.Optional(Type.String({ format: 'date-time' })),
  pay_url: Type.Optional(Type.String({ description: 'Where to POST the payment method while the payment is open.' })),
});

export const ChargeAccepted = Type.Object({
  payment_id: Type.String(),
  attempt_id: Type.String({ description: 'The charge attempt, recorded before the provider was called (its idempotency key).' }),
  provider_reference: Type.String(),
  status: Type.Literal('processing', {
    description: 'The outcome arrives through the provider callback: poll the payment or the booking.',
  }),
});

export const SettlementAnswer = Type.Object({
  payment_id: Type.String(),
  status: Type.String({ description: 'The payment status after the callback.' }),
  events: Type.Integer({ description: 'Events this callback produced (0 for a repeated callback).' }),
});

// ── Refunds (operator) ───────────────────────────────────────────────────────────────────────
export const RefundParams = Type.Object({ refund_id: Id('Refund id.') });
export const RefundListQuery = Type.Object(
  {
    status: Type.Union([Type.Literal('pending'), Type.Literal('succeeded'), Type.Literal('failed')], {
      description: 'Which refunds: failed ones wait for an operator.',
    }),
    // A digit string (query values are strings; parsed by the route, so it works with or without type coercion).
    limit: Type.Optional(
      Type.String({ pattern: '^(?:[1-9][0-9]{0,1}|[1-4][0-9]{2}|500)$', description: 'At most this many (1–500, default 100).' }),
    ),
  },
  { additionalProperties: false },
);
export const RefundView = Type.Object({
  refund_id: Type.String(),
  payment_id: Type.String(),
  booking_id: Type.String(),
  provider_reference: Type.String({ description: 'The charge refunded.' }),
  amount: Money,
  reason: Type.String(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('succeeded'), Type.Literal('failed')]),
  attempts: Type.Integer({ description: 'Provider calls that failed so far.' }),
  next_attempt_at: Type.Optional(Type.String({ format: 'date-time' })),
  last_error: Type.Optional(Type.String()),
  refund_reference: Type.Optional(Type.String()),
  requested_at: Type.String({ format: 'date-time' }),
  refunded_at: Type.Optional(Type.String({ format: 'date-time' })),
});
export const RefundList = Type.Object({ refunds: Type.Array(RefundView) });
