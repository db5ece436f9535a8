// A PaymentProvider that simulates a card network, for development, demos and tests. It stands in
// for an external system, so it keeps its own durable state — the charges it took, by idempotency
// key — in tables of its own (SIMULATED_CARD_NETWORK_MIGRATIONS, in payment's database for
// convenience, never read by payment's own code), and answers a lookup by idempotency key as real
// networks do. Every instance of payment shares them, like every merchant server talks to one
// network. Outcomes are deterministic by test card number (the numbers card networks publish for
// testing); a charge settles `latencyMs` after it was taken; the settlement reaches payment through
// `deliver` (the signed callback) with retries that back off for real; a configurable failure rate
// turns a share of the charges into processing errors.
import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import type { Migration, SqlDatabase } from '@albergue/outbox';
import type {
  ChargeAnswer,
  ChargeRequest,
  PaymentProvider,
  ProviderCharge,
  ProviderSettlement,
  SettlementOutcome,
} from '../../application/ports.js';
import type { Money } from '../../domain/payment.js';

/** What each test card does. Any other number that passes the Luhn check succeeds. */
export const TEST_CARDS: Readonly<
  Record<string, { readonly outcome: 'succeeded' } | { readonly outcome: 'failed'; readonly reason_code: string; readonly reason: string }>
> = {
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

/**
 * The simulator's own tables (versions 150+; payment's are 100–149). Apply them with payment's:
 * `migrate(db, [...OUTBOX_MIGRATIONS, ...PAYMENT_MIGRATIONS, ...SIMULATED_CARD_NETWORK_MIGRATIONS])`.
 */
export const SIMULATED_CARD_NETWORK_MIGRATIONS: readonly Migration[] = [
  {
    version: 150,
    name: 'simulated_card_network',
    sql: `
-- Owned by the simulated card network adapter (it stands in for an external system): the charges
-- it took, one per idempotency key, and the payments it was told to cancel.
CREATE TABLE sim_card_network_charges (
  idempotency_key    text PRIMARY KEY,
  provider_reference text NOT NULL UNIQUE,
  payment_id         text NOT NULL,
  amount_minor       bigint NOT NULL,
  currency           text NOT NULL,
  outcome            jsonb NOT NULL,            -- decided when the charge is taken: {status, reason_code?, reason?}
  settles_at         timestamptz NOT NULL,      -- 'processing' until then
  cancelled_at       timestamptz,               -- a cancel before settles_at turns the outcome into payment_cancelled
  refund_reference   text,
  refunded_at        timestamptz,
  deliveries         integer NOT NULL DEFAULT 0,
  delivered_at       timestamptz,
  created_at         timestamptz NOT NULL
);
CREATE INDEX sim_card_network_charges_payment ON sim_card_network_charges (payment_id);
CREATE TABLE sim_card_network_cancellations (
  payment_id   text PRIMARY KEY,
  cancelled_at timestamptz NOT NULL
);
`,
  },
];

export interface SimulatedCardNetworkOptions {
  /** Where the network keeps its charges (payment's database; tables above). */
  readonly db: SqlDatabase;
  /** Hands a settlement to payment (HTTP POST to the callback endpoint, or settlePayment directly). Throwing means "not delivered": retried. */
  readonly deliver: (settlement: ProviderSettlement) => Promise<void>;
  /** Time from taking a charge to its settlement, when the first callback is sent (default 200 ms). */
  readonly latencyMs?: number;
  /** Time `charge` takes to answer after the network recorded the charge (default 0): the window in which a merchant can crash. */
  readonly answerDelayMs?: number;
  /** Share of charges (0..1) that fail with processing_error whatever the card (default 0). */
  readonly failureRate?: number;
  /** Delivery attempts per settlement (default 6). */
  readonly maxDeliveries?: number;
  /** First redelivery delay (default max(latencyMs, 250 ms)): doubles per retry, ±20 % jitter, never 0. */
  readonly retryBaseMs?: number;
  /** Upper bound of one redelivery delay (default 30 s). */
  readonly retryMaxMs?: number;
  /** Random numbers in [0, 1) (inject for deterministic tests). */
  readonly random?: () => number;
  /** Timer (inject for tests); returns a cancel function. */
  readonly schedule?: (fn: () => void, ms: number) => () => void;
  /** The network's clock (default the system clock). */
  readonly now?: () => Date;
  /** Called when a delivery attempt failed and another is scheduled in `retryInMs`. */
  readonly onDeliveryFailed?: (settlement: ProviderSettlement, error: unknown, delivery: number, retryInMs: number) => void;
  /** Called when a settlement could not be delivered after every attempt (the merchant must look it up). */
  readonly onUndelivered?: (settlement: ProviderSettlement, error: unknown) => void;
}

export type SimulatedChargeStatus = 'processing' | 'succeeded' | 'failed' | 'refunded';

interface ChargeRow {
  [column: string]: unknown;
  idempotency_key: string;
  provider_reference: string;
  payment_id: string;
  outcome: SettlementOutcome;
  settles_at: Date;
  cancelled_at: Date | null;
  refund_reference: string | null;
}

const CANCELLED: SettlementOutcome = {
  status: 'failed',
  reason_code: 'payment_cancelled',
  reason: 'The payment was cancelled before it settled.',
};
const ROW = 'idempotency_key, provider_reference, payment_id, outcome, settles_at, cancelled_at, refund_reference';

export class SimulatedCardNetwork implements PaymentProvider {
  readonly name = 'simulated-card-network';
  private readonly timers = new Set<() => void>();
  private readonly waiters = new Set<() => void>();
  private readonly inFlight = new Set<Promise<void>>();
  private seq = 0;
  private closed = false;

  constructor(private readonly options: SimulatedCardNetworkOptions) {
    const rate = options.failureRate ?? 0;
    if (!(rate >= 0 && rate <= 1)) throw new RangeError(`failureRate must be between 0 and 1, got ${rate}`);
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  async charge(request: ChargeRequest): Promise<ChargeAnswer> {
    const existing = await this.find(request.idempotency_key);
    if (existing) return { status: 'accepted', provider_reference: existing.provider_reference };
    const card = request.payment_method.replace(/[\s-]/g, '');
    if (!luhnValid(card)) return { status: 'rejected', reason_code: 'incorrect_number', reason: 'The card number is not valid.' };

    const now = this.now();
    const random = this.options.random ?? Math.random;
    const cardOutcome = TEST_CARDS[card] ?? { outcome: 'succeeded' as const };
    const outcome: SettlementOutcome =
      random() < (this.options.failureRate ?? 0)
        ? { status: 'failed', reason_code: 'processing_error', reason: 'The card network could not process the charge.' }
        : cardOutcome.outcome === 'succeeded'
          ? { status: 'succeeded' }
          : { status: 'failed', reason_code: cardOutcome.reason_code, reason: cardOutcome.reason };
    const reference = `sim_${now.getTime().toString(36)}_${(++this.seq).toString(36)}_${randomInt(1e9).toString(36)}`;
    // One statement: a key already used keeps its first charge; a cancelled payment takes none.
    const inserted = await this.options.db.query<{ provider_reference: string }>(
      `INSERT INTO sim_card_network_charges (idempotency_key, provider_reference, payment_id, amount_minor, currency, outcome, settles_at, created_at)
       SELECT $1, $2, $3, $4, $5, $6::jsonb, $7::timestamptz, $8::timestamptz
       WHERE NOT EXISTS (SELECT 1 FROM sim_card_network_cancellations WHERE payment_id = $3)
       ON CONFLICT (idempotency_key) DO NOTHING
       RETURNING provider_reference`,
      [
        request.idempotency_key,
        reference,
        request.payment_id,
        request.amount.amount_minor,
        request.amount.currency,
        JSON.stringify(outcome),
        new Date(now.getTime() + this.latency()).toISOString(),
        now.toISOString(),
      ],
    );
    if (inserted.rows.length === 0) {
      const first = await this.find(request.idempotency_key);
      if (first) return { status: 'accepted', provider_reference: first.provider_reference };
      return { status: 'rejected', reason_code: 'payment_cancelled', reason: 'This payment was cancelled.' };
    }
    this.deliverLater(request.idempotency_key, 1, this.latency());
    await this.pause(this.options.answerDelayMs ?? 0);
    return { status: 'accepted', provider_reference: reference };
  }

  async lookup(idempotencyKey: string): Promise<ProviderCharge | undefined> {
    const row = await this.find(idempotencyKey);
    if (!row) return undefined;
    const outcome = this.outcomeOf(row);
    return outcome
      ? { status: 'settled', payment_id: row.payment_id, provider_reference: row.provider_reference, outcome }
      : { status: 'processing', payment_id: row.payment_id, provider_reference: row.provider_reference };
  }

  /** Voids the payment's charges still processing (they settle as failed, payment_cancelled) and refuses later charges of it. */
  async cancel(request: { readonly payment_id: string }): Promise<void> {
    const now = this.now().toISOString();
    await this.options.db.query(
      'INSERT INTO sim_card_network_cancellations (payment_id, cancelled_at) VALUES ($1, $2::timestamptz) ON CONFLICT (payment_id) DO NOTHING',
      [request.payment_id, now],
    );
    await this.options.db.query(
      `UPDATE sim_card_network_charges SET cancelled_at = $2::timestamptz
       WHERE payment_id = $1 AND cancelled_at IS NULL AND settles_at > $2::timestamptz`,
      [request.payment_id, now],
    );
  }

  async refund(request: {
    readonly payment_id: string;
    readonly provider_reference: string;
    readonly amount: Money;
  }): Promise<{ readonly refund_reference: string; readonly amount: Money }> {
    const now = this.now().toISOString();
    const { rows } = await this.options.db.query<{ refund_reference: string; amount_minor: number | string; currency: string }>(
      `UPDATE sim_card_network_charges
       SET refund_reference = COALESCE(refund_reference, provider_reference || '_refund'), refunded_at = COALESCE(refunded_at, $3::timestamptz)
       WHERE provider_reference = $1 AND payment_id = $2 AND settles_at <= $3::timestamptz AND outcome->>'status' = 'succeeded'
         AND (cancelled_at IS NULL OR cancelled_at >= settles_at)
       RETURNING refund_reference, amount_minor, currency`,
      [request.provider_reference, request.payment_id, now],
    );
    // The whole charge is given back, whatever amount was asked for.
    if (rows[0])
      return {
        refund_reference: rows[0].refund_reference,
        amount: { amount_minor: Number(rows[0].amount_minor), currency: rows[0].currency },
      };
    const { rows: found } = await this.options.db.query<ChargeRow>(
      `SELECT ${ROW} FROM sim_card_network_charges WHERE provider_reference = $1`,
      [request.provider_reference],
    );
    const row = found[0];
    if (!row || row.payment_id !== request.payment_id)
      throw new Error(`no charge ${request.provider_reference} for payment ${request.payment_id}`);
    throw new Error(`charge ${request.provider_reference} is ${this.statusOf(row)}; nothing to refund`);
  }

  /** The state of the charge taken with this key (tests, the demo's checkout page). */
  async status(idempotencyKey: string): Promise<SimulatedChargeStatus | undefined> {
    const row = await this.find(idempotencyKey);
    return row && this.statusOf(row);
  }

  /** Charges taken for a payment (tests: "one provider charge"). */
  async chargesOf(paymentId: string): Promise<{ idempotency_key: string; provider_reference: string; status: SimulatedChargeStatus }[]> {
    const { rows } = await this.options.db.query<ChargeRow>(
      `SELECT ${ROW} FROM sim_card_network_charges WHERE payment_id = $1 ORDER BY created_at`,
      [paymentId],
    );
    return rows.map((r) => ({ idempotency_key: r.idempotency_key, provider_reference: r.provider_reference, status: this.statusOf(r) }));
  }

  /** Resolves once the deliveries running now have finished (tests; the retries they schedule are not waited for). */
  async drain(): Promise<void> {
    for (let round = 0; round < 100 && this.inFlight.size > 0; round++) await Promise.allSettled([...this.inFlight]);
  }

  /** Stops pending deliveries and answers (on shutdown). */
  close(): void {
    this.closed = true;
    for (const cancel of this.timers) cancel();
    this.timers.clear();
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }

  private latency(): number {
    return Math.max(0, this.options.latencyMs ?? 200);
  }

  private async find(key: string): Promise<ChargeRow | undefined> {
    const { rows } = await this.options.db.query<ChargeRow>(`SELECT ${ROW} FROM sim_card_network_charges WHERE idempotency_key = $1`, [
      key,
    ]);
    return rows[0];
  }

  /** The outcome once settled (undefined while processing). */
  private outcomeOf(row: ChargeRow): SettlementOutcome | undefined {
    if (row.cancelled_at && row.cancelled_at < row.settles_at) return CANCELLED;
    return this.now() >= row.settles_at ? row.outcome : undefined;
  }

  private statusOf(row: ChargeRow): SimulatedChargeStatus {
    const outcome = this.outcomeOf(row);
    if (!outcome) return 'processing';
    if (outcome.status === 'failed') return 'failed';
    return row.refund_reference ? 'refunded' : 'succeeded';
  }

  private pause(ms: number): Promise<void> {
    if (ms <= 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.waiters.add(wake);
    });
  }

  /** Redelivery n (n ≥ 2) waits base × 2^(n−2), capped, ±20 % jitter: never 0 ms, even with latency 0. */
  retryDelayMs(delivery: number): number {
    const base = Math.max(1, this.options.retryBaseMs ?? Math.max(this.latency(), 250));
    const raw = Math.min(this.options.retryMaxMs ?? 30_000, base * 2 ** Math.min(30, Math.max(0, delivery - 2)));
    const random = this.options.random ?? Math.random;
    return Math.max(1, Math.round(raw * (0.8 + 0.4 * random())));
  }

  private deliverLater(key: string, delivery: number, delayMs: number): void {
    if (this.closed) return;
    const schedule =
      this.options.schedule ??
      ((fn, ms) => {
        const t = setTimeout(fn, ms);
        return () => clearTimeout(t);
      });
    const cancel = schedule(() => {
      this.timers.delete(cancel);
      const p = this.deliver(key, delivery).finally(() => this.inFlight.delete(p));
      this.inFlight.add(p);
    }, delayMs);
    this.timers.add(cancel);
  }

  private async deliver(key: string, delivery: number): Promise<void> {
    let settlement: ProviderSettlement | undefined;
    try {
      const row = await this.find(key);
      const outcome = row && this.outcomeOf(row);
      if (!row || !outcome) {
        if (row) this.deliverLater(key, delivery, Math.max(1, row.settles_at.getTime() - this.now().getTime()));
        return;
      }
      settlement = { payment_id: row.payment_id, provider_reference: row.provider_reference, idempotency_key: key, outcome };
      await this.options.deliver(settlement);
      await this.options.db.query(
        'UPDATE sim_card_network_charges SET deliveries = deliveries + 1, delivered_at = COALESCE(delivered_at, $2::timestamptz) WHERE idempotency_key = $1',
        [key, this.now().toISOString()],
      );
    } catch (err) {
      if (this.closed) return;
      const failed = settlement ?? {
        payment_id: '?',
        provider_reference: '?',
        idempotency_key: key,
        outcome: { status: 'failed', reason_code: 'unknown', reason: 'not read' },
      };
      if (delivery < (this.options.maxDeliveries ?? 6)) {
        const wait = this.retryDelayMs(delivery + 1);
        this.options.onDeliveryFailed?.(failed, err, delivery, wait);
        this.deliverLater(key, delivery + 1, wait);
      } else {
        this.options.onUndelivered?.(failed, err);
      }
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
