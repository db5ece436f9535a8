import { chargeable, NO_PAYMENT } from '../domain/payment.js';
import type { DomainError } from '@albergue/decider';
import type { ChargeAttempt, Clock, IdGenerator, PaymentProvider, PaymentRepository } from './ports.js';
import type { CommandResult } from '@albergue/application';

export interface ChargePaymentInput {
  readonly payment_id: string;
  /** Test card number (simulated network) or provider token. */
  readonly payment_method: string;
}

export interface ChargeAccepted {
  readonly payment_id: string;
  /** The charge attempt (the provider's idempotency key). */
  readonly attempt_id: string;
  readonly provider_reference: string;
  /** The outcome arrives through the provider callback (or the recovery sweep); poll the payment or the booking. */
  readonly status: 'processing';
}

export interface ChargeDeps {
  readonly repo: PaymentRepository;
  readonly provider: Pick<PaymentProvider, 'charge'>;
  readonly clock: Clock;
  /** Attempt ids: UUIDv7. */
  readonly ids: IdGenerator;
  /** When the recovery sweep first asks the provider about an attempt without an outcome (default 10 s). */
  readonly checkAfterMs?: number;
  readonly onProviderError?: (attempt: ChargeAttempt, error: unknown) => void;
}

export const DEFAULT_CHECK_AFTER_MS = 10_000;

type Started =
  | { readonly kind: 'refused'; readonly error: DomainError }
  | { readonly kind: 'open'; readonly attempt: ChargeAttempt }
  | {
      readonly kind: 'new';
      readonly attempt: ChargeAttempt;
      readonly booking_id: string;
      readonly amount: { readonly amount_minor: number; readonly currency: string };
    };

/**
 * The guest pays an open payment. Money leaves only through a recorded attempt:
 * 1. In one transaction, with the payment row locked (so concurrent requests on any number of
 *    instances queue here): refuse if the payment is not open; if it already has an open attempt,
 *    answer with it (accepted → the same answer; still pending → charge_in_progress, 409); else
 *    insert a `pending` attempt with a new UUIDv7 id, and commit.
 * 2. Outside any transaction, ask the provider to charge with the attempt id as idempotency key.
 * 3. Record the answer on the attempt (accepted with the provider reference, or rejected: the guest
 *    may try again). A provider error leaves the attempt pending: the recovery sweep asks the
 *    provider what became of it, so a charge made just before a crash still settles the payment.
 * Emits nothing: PaymentConfirmed / PaymentFailed come from the settlement.
 */
export async function chargePayment(deps: ChargeDeps, input: ChargePaymentInput): Promise<CommandResult<ChargeAccepted>> {
  const now = deps.clock.now();
  const started = await deps.repo.transaction(async (tx): Promise<Started> => {
    const record = await tx.loadByPayment(input.payment_id);
    const state = record?.state ?? NO_PAYMENT;
    const refused = chargeable(state);
    if (refused) return { kind: 'refused', error: refused };
    if (state.status !== 'initiated') throw new Error('unreachable: chargeable payment not initiated');
    const open = await tx.openAttempt(input.payment_id);
    if (open) return { kind: 'open', attempt: open };
    const attempt: ChargeAttempt = {
      attempt_id: deps.ids(),
      payment_id: input.payment_id,
      status: 'pending',
      checks: 0,
      next_check_at: new Date(now.getTime() + (deps.checkAfterMs ?? DEFAULT_CHECK_AFTER_MS)).toISOString(),
      created_at: now.toISOString(),
    };
    await tx.insertAttempt(attempt);
    return { kind: 'new', attempt, booking_id: state.payment.booking_id, amount: state.payment.amount };
  });
  if (started.kind === 'refused') return { ok: false, errors: [started.error] };
  if (started.kind === 'open') return sameOutcome(started.attempt);

  const { attempt } = started;
  let answer;
  try {
    answer = await deps.provider.charge({
      idempotency_key: attempt.attempt_id,
      payment_id: attempt.payment_id,
      booking_id: started.booking_id,
      amount: started.amount,
      payment_method: input.payment_method,
    });
  } catch (err) {
    deps.onProviderError?.(attempt, err);
    return {
      ok: false,
      errors: [
        {
          code: 'provider_unavailable',
          reason: `the payment provider did not answer (attempt ${attempt.attempt_id}); the charge is checked with the provider automatically, do not pay again: poll the payment`,
        },
      ],
    };
  }
  const recorded = await deps.repo.transaction(async (tx) => {
    const current = await tx.loadAttempt(attempt.attempt_id);
    // The settlement (callback) may already have closed it: keep what it recorded.
    if (!current || current.status !== 'pending') return current;
    const next: ChargeAttempt =
      answer.status === 'accepted'
        ? { ...current, status: 'accepted', provider_reference: answer.provider_reference }
        : { ...current, status: 'rejected', reason_code: answer.reason_code };
    await tx.updateAttempt(next);
    return next;
  });
  if (answer.status === 'rejected') return { ok: false, errors: [{ code: 'payment_method_rejected', reason: answer.reason }] };
  return {
    ok: true,
    value: {
      payment_id: attempt.payment_id,
      attempt_id: attempt.attempt_id,
      provider_reference: recorded?.provider_reference ?? answer.provider_reference,
      status: 'processing',
    },
    events: [],
  };
}

/** The answer for a request that found another request's attempt open. */
function sameOutcome(open: ChargeAttempt): CommandResult<ChargeAccepted> {
  if (open.status === 'accepted' && open.provider_reference !== undefined) {
    return {
      ok: true,
      value: {
        payment_id: open.payment_id,
        attempt_id: open.attempt_id,
        provider_reference: open.provider_reference,
        status: 'processing',
      },
      events: [],
    };
  }
  return {
    ok: false,
    errors: [
      {
        code: 'charge_in_progress',
        reason: `payment ${open.payment_id} is being charged (attempt ${open.attempt_id}); poll the payment instead of paying again`,
      },
    ],
  };
}
