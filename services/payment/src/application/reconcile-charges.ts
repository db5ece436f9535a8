// The recovery sweep: asks the provider about charge attempts without an outcome, so that a payment
// completes by itself after a crash mid-charge (attempt recorded, provider answer lost) or when the
// settlement callback never arrives.
import type { DecisionLog } from '@albergue/application';
import type { ChargeAttempt, Clock, PaymentProvider, PaymentRepository } from './ports.js';
import { settlePayment } from './settle-payment.js';

export interface ReconcilePolicy {
  /** Delay between checks of one attempt: first `baseDelayMs`, doubling per check up to `maxDelayMs`. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** An attempt the provider never received is abandoned (closed; the guest may pay again) once this old. */
  readonly abandonAfterMs: number;
  /** How long a claimed attempt is hidden from other instances' sweeps while it is checked. */
  readonly leaseMs: number;
}

export const DEFAULT_RECONCILE_POLICY: ReconcilePolicy = {
  baseDelayMs: 5_000,
  maxDelayMs: 5 * 60_000,
  abandonAfterMs: 60_000,
  leaseMs: 30_000,
};

export interface ReconcileDeps {
  readonly repo: PaymentRepository;
  readonly clock: Clock;
  readonly provider: Pick<PaymentProvider, 'lookup' | 'cancel'>;
  readonly policy?: Partial<ReconcilePolicy>;
  readonly onLookupError?: (attempt: ChargeAttempt, error: unknown) => void;
  /** Settlements that change nothing are reported here. */
  readonly decisions?: DecisionLog;
}

export type AttemptCheck = 'settled' | 'processing' | 'abandoned' | 'not_received_yet' | 'lookup_failed' | 'gone';

/** Delay before check number `checks + 1` of an attempt: bounded exponential. */
export function checkDelayMs(checks: number, policy: ReconcilePolicy): number {
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(30, Math.max(0, checks)));
}

/**
 * Checks one attempt with the provider and applies what it learns. When the payment is no longer
 * open (voided because its booking ended), the provider is first asked to cancel the charge.
 */
export async function reconcileAttempt(deps: ReconcileDeps, attempt: ChargeAttempt): Promise<AttemptCheck> {
  const policy = { ...DEFAULT_RECONCILE_POLICY, ...deps.policy };
  let charge;
  try {
    const record = await deps.repo.transaction((tx) => tx.loadByPayment(attempt.payment_id));
    if (record && record.state.status !== 'initiated') await deps.provider.cancel({ payment_id: attempt.payment_id });
    charge = await deps.provider.lookup(attempt.attempt_id);
  } catch (err) {
    deps.onLookupError?.(attempt, err);
    await reschedule(deps, attempt, policy, {});
    return 'lookup_failed';
  }
  if (charge?.status === 'settled') {
    // The same path as the callback: idempotent, closes the attempt, refunds a success that settles nothing.
    const r = await settlePayment(deps, {
      payment_id: attempt.payment_id,
      provider_reference: charge.provider_reference,
      idempotency_key: attempt.attempt_id,
      outcome: charge.outcome,
    });
    if (!r.ok) {
      // The payment is gone (cannot happen while attempts reference it); keep the attempt visible but stop hammering.
      await reschedule(deps, attempt, policy, {});
      return 'gone';
    }
    return 'settled';
  }
  if (charge?.status === 'processing') {
    await reschedule(deps, attempt, policy, { status: 'accepted', provider_reference: charge.provider_reference });
    return 'processing';
  }
  const age = deps.clock.now().getTime() - Date.parse(attempt.created_at);
  if (age >= policy.abandonAfterMs) {
    const closed = await deps.repo.transaction(async (tx) => {
      const current = await tx.loadAttempt(attempt.attempt_id);
      if (!current || (current.status !== 'pending' && current.status !== 'accepted')) return false;
      await tx.updateAttempt({ ...current, status: 'abandoned', checks: current.checks + 1 });
      return true;
    });
    return closed ? 'abandoned' : 'gone';
  }
  await reschedule(deps, attempt, policy, {});
  return 'not_received_yet';
}

async function reschedule(
  deps: ReconcileDeps,
  attempt: ChargeAttempt,
  policy: ReconcilePolicy,
  patch: Partial<Pick<ChargeAttempt, 'status' | 'provider_reference'>>,
): Promise<void> {
  await deps.repo.transaction(async (tx) => {
    const current = await tx.loadAttempt(attempt.attempt_id);
    if (!current || (current.status !== 'pending' && current.status !== 'accepted')) return;
    const checks = current.checks + 1;
    await tx.updateAttempt({
      ...current,
      ...patch,
      checks,
      next_check_at: new Date(deps.clock.now().getTime() + checkDelayMs(checks, policy)).toISOString(),
    });
  });
}

/** One sweep: claims due open attempts (skipping those another instance is checking) and checks each. */
export async function reconcileChargeAttempts(deps: ReconcileDeps, limit = 50): Promise<Record<AttemptCheck, number>> {
  const policy = { ...DEFAULT_RECONCILE_POLICY, ...deps.policy };
  const now = deps.clock.now();
  const claimed = await deps.repo.claimAttemptsToCheck(now, new Date(now.getTime() + policy.leaseMs), limit);
  const counts: Record<AttemptCheck, number> = { settled: 0, processing: 0, abandoned: 0, not_received_yet: 0, lookup_failed: 0, gone: 0 };
  for (const attempt of claimed) counts[await reconcileAttempt(deps, attempt)]++;
  return counts;
}
