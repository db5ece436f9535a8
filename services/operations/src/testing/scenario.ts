// Synthetic event histories for the projection tests: albergues, capacity changes and booking flows
// with every ending (confirmed, declined and cancelled, expired, cancelled by the guest after paying,
// refunded, a duplicate charge refunded), built with the real envelope factory. Seeded, so a failing
// order can be replayed.
import type { AlbergueEvent, EventEnvelope } from '@albergue/events';
import {
  AlbergueCapacityChanged,
  AlbergueRegistered,
  BookingCancelled,
  BookingConfirmed,
  BookingReserved,
  PaymentConfirmed,
  PaymentFailed,
  PaymentInitiated,
  PaymentRefunded,
  ReservationExpired,
  newEnvelope,
  withCorrelation,
} from '@albergue/events';

/** A small deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The same items in a random order. */
export function shuffled<T>(items: readonly T[], rnd: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const iso = (ms: number) => new Date(ms).toISOString();
const date = (days: number) => new Date(Date.UTC(2031, 4, 1) + days * 86_400_000).toISOString().slice(0, 10);

export interface Scenario {
  readonly events: AlbergueEvent[];
  readonly albergues: string[];
}

/** `flows` booking flows over `albergues` albergues; events in causal order per flow, flows interleaved by time. */
export function scenario(seed: number, albergues = 3, flows = 40): Scenario {
  const rnd = prng(seed);
  const events: EventEnvelope[] = [];
  const ids: string[] = [];
  let t = Date.UTC(2031, 0, 1);
  const at = () => iso((t += 1 + Math.floor(rnd() * 1000)));
  for (let a = 0; a < albergues; a++) {
    const id = `alb-${seed}-${a}`;
    ids.push(id);
    events.push(
      newEnvelope(
        AlbergueRegistered,
        {
          albergue_id: id,
          name: `Albergue ${a}`,
          town: 'Sarria',
          route: 'Camino Francés',
          location: { lat: 42.7, lon: -7.4 },
          beds: 20 + a,
          nightly_price: { amount_minor: 1200, currency: 'EUR' },
        },
        { occurred_at: at() },
      ),
    );
    if (a % 2 === 0)
      events.push(newEnvelope(AlbergueCapacityChanged, { albergue_id: id, beds: 10 + a, effective_from: date(3) }, { occurred_at: at() }));
  }
  for (let f = 0; f < flows; f++) {
    const albergue = ids[Math.floor(rnd() * ids.length)]!;
    const bookingId = `bk-${seed}-${f}`;
    const paymentId = `pay-${seed}-${f}`;
    const nights = 1 + Math.floor(rnd() * 3);
    const start = Math.floor(rnd() * 6);
    const beds = 1 + Math.floor(rnd() * 2);
    const currency = rnd() < 0.8 ? 'EUR' : 'GBP';
    const amount = { amount_minor: 1200 * nights * beds, currency };
    const reservedAt = at();
    const reserved = newEnvelope(
      BookingReserved,
      {
        booking_id: bookingId,
        albergue_id: albergue,
        guest: { guest_id: `g-${f}`, name: `Pilgrim ${f}`, email: `p${f}@example.org`, locale: 'es' },
        check_in: date(start),
        check_out: date(start + nights),
        beds,
        total: amount,
        hold_expires_at: iso(Date.parse(reservedAt) + 900_000),
      },
      { occurred_at: reservedAt },
    );
    events.push(reserved);
    const ending = rnd();
    if (ending < 0.1) continue; // still in flight
    const initiated = newEnvelope(
      PaymentInitiated,
      { payment_id: paymentId, booking_id: bookingId, amount, provider: 'simulated', initiated_at: at() },
      { ...withCorrelation(reserved), occurred_at: at() },
    );
    events.push(initiated);
    if (ending < 0.25) {
      events.push(
        newEnvelope(
          ReservationExpired,
          { booking_id: bookingId, albergue_id: albergue, hold_expires_at: reserved.payload.hold_expires_at, expired_at: at() },
          { ...withCorrelation(reserved), occurred_at: at() },
        ),
      );
      continue;
    }
    if (ending < 0.45) {
      const failed = newEnvelope(
        PaymentFailed,
        { payment_id: paymentId, booking_id: bookingId, reason_code: 'card_declined', reason: 'declined', failed_at: at() },
        { ...withCorrelation(initiated), occurred_at: at() },
      );
      events.push(failed);
      events.push(
        newEnvelope(
          BookingCancelled,
          { booking_id: bookingId, albergue_id: albergue, reason: 'payment_failed', cancelled_at: at() },
          { ...withCorrelation(failed), occurred_at: at() },
        ),
      );
      continue;
    }
    const confirmedPay = newEnvelope(
      PaymentConfirmed,
      { payment_id: paymentId, booking_id: bookingId, amount, provider_reference: `ref-${f}`, confirmed_at: at() },
      { ...withCorrelation(initiated), occurred_at: at() },
    );
    events.push(confirmedPay);
    const confirmed = newEnvelope(
      BookingConfirmed,
      { booking_id: bookingId, albergue_id: albergue, payment_id: paymentId, confirmed_at: at() },
      { ...withCorrelation(confirmedPay), occurred_at: at() },
    );
    events.push(confirmed);
    const refund = (reason: string, n: number) =>
      newEnvelope(
        PaymentRefunded,
        {
          payment_id: paymentId,
          booking_id: bookingId,
          amount: amount.amount_minor,
          currency,
          reason,
          provider_reference: `ref-${f}-${n}`,
          refund_reference: `rf-${f}-${n}`,
          refunded_at: at(),
        },
        { ...withCorrelation(confirmed), occurred_at: at() },
      );
    if (ending > 0.85) {
      const cancelled = newEnvelope(
        BookingCancelled,
        { booking_id: bookingId, albergue_id: albergue, reason: 'guest_request', cancelled_at: at() },
        { ...withCorrelation(confirmed), occurred_at: at() },
      );
      events.push(cancelled, refund('booking_cancelled', 1));
    } else if (ending > 0.8) {
      events.push(refund('duplicate_charge', 2));
    }
  }
  return { events: events as AlbergueEvent[], albergues: ids };
}
