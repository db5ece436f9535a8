// Carrying out refunds: every RefundRequested became a row in `refunds` (one per charge, see
// saveDecision). The sweep claims due rows, asks the provider (outside any transaction; idempotent by
// provider reference, so a retry never refunds twice), and records the outcome: PaymentRefunded on
// success; on failure a logged, counted retry after a bounded exponential backoff, and after
// `maxAttempts` the refund is parked as `failed` for an operator to see and retry.
import type { Money, RecordRefund } from '../domain/payment.js';
import { decide, NO_PAYMENT } from '../domain/payment.js';
import type { Clock, PaymentProvider, PaymentRepository, Refund } from './ports.js';
import type { DecisionLog } from '@albergue/application';
import { notApplied } from '@albergue/application';
import { savePaymentDecision } from './support.js';

/** Where refund failures are reported (the service wires its logger and a Prometheus counter). */
export interface RefundObserver {
  refundFailed(refund: Refund, error: unknown, final: boolean): void;
  refundSucceeded?(refund: Refund): void;
}

export interface RefundPolicy {
  /** Provider calls per refund before it is parked as failed (default 8). */
  readonly maxAttempts: number;
  /** First retry delay; doubles per failure (default 1 s). */
  readonly baseDelayMs: number;
  /** Upper bound of a retry delay (default 5 min). */
  readonly maxDelayMs: number;
  /** How long a claimed refund is hidden from other sweeps while its provider call runs (default 30 s). */
  readonly leaseMs: number;
}

export const DEFAULT_REFUND_POLICY: RefundPolicy = { maxAttempts: 8, baseDelayMs: 1000, maxDelayMs: 5 * 60_000, leaseMs: 30_000 };

export interface RefundDeps {
  readonly repo: PaymentRepository;
  readonly clock: Clock;
  readonly provider: Pick<PaymentProvider, 'refund'>;
  readonly policy?: Partial<RefundPolicy>;
  readonly observer?: RefundObserver;
  readonly decisions?: DecisionLog;
  /** Random numbers in [0, 1) for the backoff's jitter (inject in tests). */
  readonly random?: () => number;
}

export type RefundResult =
  | { readonly status: 'succeeded'; readonly refund: Refund; readonly events: number }
  | { readonly status: 'retrying' | 'failed'; readonly refund: Refund; readonly error: string }
  | { readonly status: 'not_found' | 'already_succeeded'; readonly refund?: Refund };

const policyOf = (deps: RefundDeps): RefundPolicy => ({ ...DEFAULT_REFUND_POLICY, ...deps.policy });

/** Delay before retry number `failures` (1-based): base × 2^(failures−1), capped, with ±20 % jitter; never 0. */
export function refundBackoffMs(failures: number, policy: RefundPolicy, random: () => number = Math.random): number {
  const raw = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(30, Math.max(0, failures - 1)));
  return Math.max(1, Math.round(raw * (0.8 + 0.4 * random())));
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err)).slice(0, 1000);

/**
 * Asks the provider to refund one refund's charge and records the outcome. Safe to run from several
 * instances at once: the provider refund is idempotent and the outcome is recorded under the row
 * lock, once.
 */
export async function carryOutRefund(deps: RefundDeps, refundId: string): Promise<RefundResult> {
  const refund = await deps.repo.transaction((tx) => tx.loadRefund(refundId));
  if (!refund) return { status: 'not_found' };
  if (refund.status === 'succeeded') return { status: 'already_succeeded', refund };
  const policy = policyOf(deps);
  let answer: { readonly refund_reference: string; readonly amount?: Money };
  try {
    answer = await deps.provider.refund({
      payment_id: refund.payment_id,
      provider_reference: refund.provider_reference,
      amount: refund.amount,
    });
  } catch (err) {
    const recorded = await deps.repo.transaction(async (tx) => {
      const current = await tx.loadRefund(refundId);
      if (!current || current.status === 'succeeded') return undefined;
      const attempts = current.attempts + 1;
      const final = attempts >= policy.maxAttempts;
      const now = deps.clock.now();
      const next: Refund = {
        ...current,
        attempts,
        status: final ? 'failed' : 'pending',
        last_error: message(err),
        next_attempt_at: final ? undefined : new Date(now.getTime() + refundBackoffMs(attempts, policy, deps.random)).toISOString(),
      };
      await tx.updateRefund(next);
      return { next, final };
    });
    if (!recorded) return { status: 'already_succeeded' };
    deps.observer?.refundFailed(recorded.next, err, recorded.final);
    return { status: recorded.final ? 'failed' : 'retrying', refund: recorded.next, error: message(err) };
  }
  return deps.repo.transaction(async (tx): Promise<RefundResult> => {
    const current = await tx.loadRefund(refundId);
    if (!current) return { status: 'not_found' };
    if (current.status === 'succeeded') return { status: 'already_succeeded', refund: current };
    const now = deps.clock.now().toISOString();
    // The provider's figure wins: a stray charge may not have been for the payment's amount.
    const amount = answer.amount ? { amount_minor: answer.amount.amount_minor, currency: answer.amount.currency } : current.amount;
    const done: Refund = {
      ...current,
      amount,
      status: 'succeeded',
      refund_reference: answer.refund_reference,
      refunded_at: now,
      next_attempt_at: undefined,
    };
    await tx.updateRefund(done);
    const record = await tx.loadByPayment(current.payment_id);
    const state = record?.state ?? NO_PAYMENT;
    const command: RecordRefund = {
      type: 'RecordRefund',
      data: {
        payment_id: current.payment_id,
        provider_reference: current.provider_reference,
        refund_reference: answer.refund_reference,
        amount,
        reason: current.reason,
        now,
      },
    };
    const decision = decide(command, state);
    let events = 0;
    if (record && decision.ok && !decision.ignored) {
      const saved = await savePaymentDecision(tx, state, decision.events, {
        correlation_id: record.correlation_id,
        causation_id: record.last_event_id,
      });
      events = saved.envelopes.length;
    } else {
      const ignored = notApplied(decision);
      if (ignored)
        deps.decisions?.ignored({ decision: command.type, ignored, refs: { refund_id: refundId, payment_id: current.payment_id } });
    }
    deps.observer?.refundSucceeded?.(done);
    return { status: 'succeeded', refund: done, events };
  });
}

/** One sweep: carries out up to `limit` due refunds; returns how many succeeded. Failures are recorded per refund, never swallowed. */
export async function refundPendingPayments(deps: RefundDeps, limit = 50): Promise<number> {
  const now = deps.clock.now();
  const claimed = await deps.repo.claimRefundsDue(now, new Date(now.getTime() + policyOf(deps).leaseMs), limit);
  let done = 0;
  for (const refund of claimed) {
    if ((await carryOutRefund(deps, refund.refund_id)).status === 'succeeded') done++;
  }
  return done;
}

/**
 * An operator retries a refund (`POST /refunds/:id/retry`): a failed one gets a fresh retry budget
 * and is attempted now. Unknown → not_found; already refunded → already_succeeded.
 */
export async function retryRefund(deps: RefundDeps, refundId: string): Promise<RefundResult> {
  const reset = await deps.repo.transaction(async (tx) => {
    const current = await tx.loadRefund(refundId);
    if (!current || current.status === 'succeeded') return current;
    await tx.updateRefund({ ...current, status: 'pending', attempts: 0, next_attempt_at: deps.clock.now().toISOString() });
    return current;
  });
  if (!reset) return { status: 'not_found' };
  if (reset.status === 'succeeded') return { status: 'already_succeeded', refund: reset };
  return carryOutRefund(deps, refundId);
}
