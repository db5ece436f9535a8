// A PaymentProvider that simulates a card network, for development, demos and tests. Outcomes are
// deterministic by test card number (the numbers card networks publish for testing); the settlement
// reaches payment through `deliver` (wired to the callback endpoint, or straight to settlePayment)
// after a configurable latency, with retries like a real webhook; a configurable failure rate turns
// a share of the charges into processing errors.
import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import type { ChargeAnswer, ChargeRequest, PaymentProvider, ProviderSettlement } from '../../application/ports';
import type { Money } from '../../domain/payment';

/** What each test card does. Any other number that passes the Luhn check succeeds. */
export const TEST_CARDS: Readonly<Record<string, { readonly outcome: 'succeeded' } | { readonly outcome: 'failed'; readonly reason_code: string; readonly reason: string }>> = {
  '4242424242424242': { outcome: 'succeeded' },
  '5555555555554444': { outcome: 'succeeded' },
  '4000000000000002': { outcome: 'failed', reason_code: 'card_declined', reason: 'The card was declined.' },
  '4000000000009995': { outcome: 'failed', reason_code: 'insufficient_funds', reason: 'The card has insufficient funds.' },
  '4000000000000069': { outcome: 'failed', reason_code: 'expired_card', reason: 'The card has expired.' },
  '4000000000000119': { outcome: 'failed', reason_code: 'processing_error', reason: 'The card network could not process the charge.' },
};

export function luhnValid(digits: string): boolean {
  if (!/^\d{12,19}$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

export interface SimulatedCardNetworkOptions {
  /** Hands a settlement to payment (HTTP POST to the callback endpoint, or settlePayment directly). Throwing means "not delivered": retried. */
  readonly deliver: (settlement: ProviderSettlement) => Promise<void>;
  /** Delay before the settlement is delivered (default 200 ms); doubled on every delivery retry. */
  readonly latencyMs?: number;
  /** Share of charges (0..1) that fail with processing_error whatever the card (default 0). */
  readonly failureRate?: number;
  /** Delivery attempts per settlement (default 6). */
  readonly maxDeliveries?: number;
  /** Random numbers in [0, 1) (inject for deterministic tests). */
  readonly random?: () => number;
  /** Timer (inject for tests); returns a cancel function. */
  readonly schedule?: (fn: () => void, ms: number) => () => void;
  /** Called when a settlement could not be delivered after every attempt. */
  readonly onUndelivered?: (settlement: ProviderSettlement, error: unknown) => void;
}

type ChargeStatus = 'processing' | 'succeeded' | 'failed' | 'cancelled' | 'refunded';

interface Charge {
  readonly payment_id: string;
  readonly provider_reference: string;
  readonly amount: Money;
  status: ChargeStatus;
  settlement?: ProviderSettlement;
  refund_reference?: string;
  cancelTimer?: () => void;
}

export class SimulatedCardNetwork implements PaymentProvider {
  readonly name = 'simulated-card-network';
  private readonly charges = new Map<string, Charge>();
  private readonly cancelled = new Set<string>();
  private readonly timers = new Set<() => void>();
  private seq = 0;

  constructor(private readonly options: SimulatedCardNetworkOptions) {
    const rate = options.failureRate ?? 0;
    if (!(rate >= 0 && rate <= 1)) throw new RangeError(`failureRate must be between 0 and 1, got ${rate}`);
  }

  charge(request: ChargeRequest): Promise<ChargeAnswer> {
    const existing = this.charges.get(request.payment_id);
    if (existing) return Promise.resolve({ status: 'accepted', provider_reference: existing.provider_reference });
    if (this.cancelled.has(request.payment_id)) {
      return Promise.resolve({ status: 'rejected', reason_code: 'payment_cancelled', reason: 'This payment was cancelled.' });
    }
    const card = request.payment_method.replace(/[\s-]/g, '');
    if (!luhnValid(card)) return Promise.resolve({ status: 'rejected', reason_code: 'incorrect_number', reason: 'The card number is not valid.' });

    const provider_reference = `sim_${Date.now().toString(36)}_${(++this.seq).toString(36)}_${randomInt(1e9).toString(36)}`;
    const charge: Charge = { payment_id: request.payment_id, provider_reference, amount: request.amount, status: 'processing' };
    this.charges.set(request.payment_id, charge);
    const random = this.options.random ?? Math.random;
    const card_outcome = TEST_CARDS[card] ?? { outcome: 'succeeded' as const };
    const outcome: ProviderSettlement['outcome'] =
      random() < (this.options.failureRate ?? 0)
        ? { status: 'failed', reason_code: 'processing_error', reason: 'The card network could not process the charge.' }
        : card_outcome.outcome === 'succeeded'
          ? { status: 'succeeded' }
          : { status: 'failed', reason_code: card_outcome.reason_code, reason: card_outcome.reason };
    charge.settlement = { payment_id: request.payment_id, provider_reference, outcome };
    this.deliverLater(charge, 1);
    return Promise.resolve({ status: 'accepted', provider_reference });
  }

  /** Voids a charge still processing: it settles as failed (payment_cancelled). A charge never made can no longer be made. */
  cancel(request: { readonly payment_id: string }): Promise<void> {
    this.cancelled.add(request.payment_id);
    const charge = this.charges.get(request.payment_id);
    if (charge?.status === 'processing' && charge.settlement?.outcome.status === 'succeeded') {
      charge.settlement = { ...charge.settlement, outcome: { status: 'failed', reason_code: 'payment_cancelled', reason: 'The payment was cancelled before it settled.' } };
    }
    return Promise.resolve();
  }

  refund(request: { readonly payment_id: string; readonly provider_reference: string; readonly amount: Money }): Promise<{ readonly refund_reference: string }> {
    const charge = this.charges.get(request.payment_id);
    if (!charge || charge.provider_reference !== request.provider_reference) return Promise.reject(new Error(`no charge ${request.provider_reference} for payment ${request.payment_id}`));
    if (charge.status !== 'succeeded' && charge.status !== 'refunded') return Promise.reject(new Error(`charge ${charge.provider_reference} is ${charge.status}; nothing to refund`));
    charge.status = 'refunded';
    charge.refund_reference ??= `${charge.provider_reference}_refund`;
    return Promise.resolve({ refund_reference: charge.refund_reference });
  }

  /** The state of a charge at the simulated network (for the demo's checkout page and tests). */
  status(paymentId: string): ChargeStatus | undefined {
    return this.charges.get(paymentId)?.status;
  }

  /** Stops pending deliveries (on shutdown). */
  close(): void {
    for (const cancel of this.timers) cancel();
    this.timers.clear();
  }

  private deliverLater(charge: Charge, attempt: number): void {
    const latency = (this.options.latencyMs ?? 200) * 2 ** (attempt - 1);
    const schedule = this.options.schedule ?? ((fn, ms) => {
      const t = setTimeout(fn, ms);
      return () => clearTimeout(t);
    });
    const cancel = schedule(() => {
      this.timers.delete(cancel);
      void this.deliver(charge, attempt);
    }, latency);
    this.timers.add(cancel);
  }

  private async deliver(charge: Charge, attempt: number): Promise<void> {
    const settlement = charge.settlement;
    if (!settlement) return;
    if (charge.status === 'processing') charge.status = settlement.outcome.status === 'succeeded' ? 'succeeded' : 'failed';
    try {
      await this.options.deliver(settlement);
    } catch (err) {
      if (attempt < (this.options.maxDeliveries ?? 6)) this.deliverLater(charge, attempt + 1);
      else this.options.onUndelivered?.(settlement, err);
    }
  }
}

/** HMAC-SHA256 of a callback body, hex: the simulated network signs its callbacks with it. */
export function signCallback(body: string, secret: string): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

/** Constant-time check of a callback signature. */
export function verifyCallback(body: string, signature: string, secret: string): boolean {
  const expected = Buffer.from(signCallback(body, secret), 'hex');
  const given = Buffer.from(signature, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
