// The operations read model: four projections, each an order-independent fold per entity (see
// projection.ts). Events of one booking or payment may arrive in any order (a BookingConfirmed before
// its BookingReserved, a PaymentFailed before its PaymentInitiated): statuses merge by rank (a later
// state of the life cycle wins whatever arrived first) and each fact is taken from whichever event
// carries it, so every arrival order gives the same documents.
import type { AlbergueEvent } from '@albergue/events';
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
} from '@albergue/events';
import { instantMs, nightsOf } from '@albergue/decider';
import type { Contributions, CounterContribution, Projection } from './projection.js';
import { NO_CONTRIBUTIONS, defineProjection } from './projection.js';

// ── Booking life cycle, shared by three projections ──────────────────────────────────────────

export type BookingStatus = 'reserved' | 'confirmed' | 'cancelled' | 'expired';
export const BOOKING_STATUSES: readonly BookingStatus[] = ['reserved', 'confirmed', 'cancelled', 'expired'];
const BOOKING_RANK: Record<BookingStatus, number> = { reserved: 1, confirmed: 2, cancelled: 3, expired: 3 };

/** The later of two statuses in the booking life cycle (ties between cancelled and expired: alphabetical, never both in practice). */
export function laterBookingStatus(a: BookingStatus | undefined, b: BookingStatus): BookingStatus {
  if (a === undefined) return b;
  const ra = BOOKING_RANK[a];
  const rb = BOOKING_RANK[b];
  if (ra !== rb) return ra > rb ? a : b;
  return a > b ? a : b;
}

/** The status and facts a booking event says, whatever its type. */
function bookingFacts(e: AlbergueEvent): { status: BookingStatus; albergue_id: string; at: string } | undefined {
  switch (e.event_type) {
    case 'BookingReserved':
      return { status: 'reserved', albergue_id: e.payload.albergue_id, at: e.occurred_at };
    case 'BookingConfirmed':
      return { status: 'confirmed', albergue_id: e.payload.albergue_id, at: e.payload.confirmed_at };
    case 'BookingCancelled':
      return { status: 'cancelled', albergue_id: e.payload.albergue_id, at: e.payload.cancelled_at };
    case 'ReservationExpired':
      return { status: 'expired', albergue_id: e.payload.albergue_id, at: e.payload.expired_at };
    default:
      return undefined;
  }
}

const BOOKING_EVENTS = [BookingReserved, BookingConfirmed, BookingCancelled, ReservationExpired] as const;

function bookingKey(e: AlbergueEvent): string | undefined {
  return bookingFacts(e) && `booking:${(e.payload as { booking_id: string }).booking_id}`;
}

// ── occupancy: capacity, reserved, confirmed and free beds per albergue per night ───────────

export type AlbergueCapacityDoc = {
  readonly kind: 'albergue';
  /** Beds as registered (nights before the first change); absent until AlbergueRegistered arrives. */
  readonly beds?: number;
  /** effective_from → beds from that night on; of two changes for one night the later event (UUIDv7 order) wins. */
  readonly changes: { readonly [effectiveFrom: string]: { readonly beds: number; readonly event_id: string } };
};

export type BookingNightsDoc = {
  readonly kind: 'booking';
  readonly status: BookingStatus;
  readonly albergue_id: string;
  readonly check_in?: string;
  readonly check_out?: string;
  readonly beds?: number;
};

export type OccupancyDoc = AlbergueCapacityDoc | BookingNightsDoc;

/** Beds the albergue has on a night, or undefined when the projection has not heard of it for that night. */
export function capacityOn(doc: AlbergueCapacityDoc, night: string): number | undefined {
  let best: string | undefined;
  for (const from of Object.keys(doc.changes)) if (from <= night && (best === undefined || from > best)) best = from;
  return best === undefined ? doc.beds : doc.changes[best]!.beds;
}

export const nightsCounterKey = (albergueId: string): string => `nights:${albergueId}`;
export const nightField = (night: string, status: 'reserved' | 'confirmed'): string => `${night}|${status}`;

export const occupancy = defineProjection<OccupancyDoc>({
  name: 'occupancy',
  description: 'Capacity, reserved, confirmed and free beds per albergue per night.',
  events: [AlbergueRegistered, AlbergueCapacityChanged, ...BOOKING_EVENTS],
  indexes: [],
  entityOf(e) {
    if (e.event_type === 'AlbergueRegistered' || e.event_type === 'AlbergueCapacityChanged') return `albergue:${e.payload.albergue_id}`;
    return bookingKey(e);
  },
  evolve(doc, e) {
    if (e.event_type === 'AlbergueRegistered') {
      const prev = doc?.kind === 'albergue' ? doc : undefined;
      return { kind: 'albergue', beds: e.payload.beds, changes: prev?.changes ?? {} };
    }
    if (e.event_type === 'AlbergueCapacityChanged') {
      const prev = doc?.kind === 'albergue' ? doc : { kind: 'albergue' as const, changes: {} };
      const current = prev.changes[e.payload.effective_from];
      if (current && current.event_id >= e.event_id) return prev;
      return { ...prev, changes: { ...prev.changes, [e.payload.effective_from]: { beds: e.payload.beds, event_id: e.event_id } } };
    }
    const facts = bookingFacts(e);
    if (!facts) return doc ?? { kind: 'albergue', changes: {} };
    const prev = doc?.kind === 'booking' ? doc : undefined;
    const next: BookingNightsDoc = {
      kind: 'booking',
      status: laterBookingStatus(prev?.status, facts.status),
      albergue_id: facts.albergue_id,
      ...(prev?.check_in === undefined ? {} : { check_in: prev.check_in, check_out: prev.check_out, beds: prev.beds }),
    };
    if (e.event_type === 'BookingReserved')
      return { ...next, check_in: e.payload.check_in, check_out: e.payload.check_out, beds: e.payload.beds };
    return next;
  },
  contributions(_key, doc): Contributions {
    if (doc.kind !== 'booking' || doc.check_in === undefined || doc.check_out === undefined || doc.beds === undefined)
      return NO_CONTRIBUTIONS;
    if (doc.status !== 'reserved' && doc.status !== 'confirmed') return NO_CONTRIBUTIONS;
    const status = doc.status;
    const counters: CounterContribution[] = nightsOf(doc.check_in, doc.check_out).map((night) => ({
      key: nightsCounterKey(doc.albergue_id),
      field: nightField(night, status),
      value: doc.beds!,
    }));
    return { counters, indexes: [] };
  },
});

// ── bookings: bookings per status, per albergue and overall ──────────────────────────────────

export type BookingStatusDoc = { readonly status: BookingStatus; readonly albergue_id: string };

export const ALL_BOOKINGS_KEY = 'all';
export const albergueBookingsKey = (albergueId: string): string => `albergue:${albergueId}`;

export const bookings = defineProjection<BookingStatusDoc>({
  name: 'bookings',
  description: 'Bookings by status, per albergue and overall.',
  events: BOOKING_EVENTS,
  indexes: [],
  entityOf: bookingKey,
  evolve(doc, e) {
    const facts = bookingFacts(e);
    if (!facts) return doc ?? { status: 'reserved', albergue_id: '' };
    return { status: laterBookingStatus(doc?.status, facts.status), albergue_id: facts.albergue_id };
  },
  contributions(_key, doc) {
    return {
      counters: [
        { key: ALL_BOOKINGS_KEY, field: doc.status, value: 1 },
        { key: albergueBookingsKey(doc.albergue_id), field: doc.status, value: 1 },
      ],
      indexes: [],
    };
  },
});

// ── payments: count and sum per status and currency, and the refunds ─────────────────────────

export type PaymentStatus = 'initiated' | 'confirmed' | 'failed';
const PAYMENT_RANK: Record<PaymentStatus, number> = { initiated: 1, failed: 2, confirmed: 3 };

export type PaymentDoc = {
  readonly booking_id: string;
  /** From PaymentInitiated or PaymentConfirmed, whichever came first. */
  readonly amount?: { readonly amount_minor: number; readonly currency: string };
  readonly status?: PaymentStatus;
  /** refund_reference → the refund (a payment may be refunded more than once: a duplicate charge). */
  readonly refunds: {
    readonly [refundReference: string]: { readonly amount_minor: number; readonly currency: string; readonly reason: string };
  };
};

/**
 * What the payment counts as: `refunded` once a refund gave its money back (a refund of a duplicate
 * charge leaves the payment as it was), else its status; `unknown` while only a duplicate-charge refund is known.
 */
export function paymentStatusOf(doc: PaymentDoc): PaymentStatus | 'refunded' | 'unknown' {
  if (Object.values(doc.refunds).some((r) => r.reason !== 'duplicate_charge')) return 'refunded';
  return doc.status ?? 'unknown';
}

export const paymentStatusKey = (status: string): string => `status:${status}`;
export const REFUNDS_KEY = 'refunds';
export const currencyField = (currency: string, what: 'count' | 'amount_minor'): string => `${currency}|${what}`;

export const payments = defineProjection<PaymentDoc>({
  name: 'payments',
  description: 'Payments by status and amount (count and sum per status and currency) and refunds.',
  events: [PaymentInitiated, PaymentConfirmed, PaymentFailed, PaymentRefunded],
  indexes: [],
  entityOf(e) {
    switch (e.event_type) {
      case 'PaymentInitiated':
      case 'PaymentConfirmed':
      case 'PaymentFailed':
      case 'PaymentRefunded':
        return `payment:${e.payload.payment_id}`;
      default:
        return undefined;
    }
  },
  evolve(doc, e) {
    const prev: PaymentDoc = doc ?? { booking_id: '', refunds: {} };
    const withStatus = (s: PaymentStatus): PaymentDoc => ({
      ...prev,
      status: prev.status === undefined || PAYMENT_RANK[s] > PAYMENT_RANK[prev.status] ? s : prev.status,
    });
    switch (e.event_type) {
      case 'PaymentInitiated':
      case 'PaymentConfirmed': {
        const next = withStatus(e.event_type === 'PaymentInitiated' ? 'initiated' : 'confirmed');
        return { ...next, booking_id: e.payload.booking_id, amount: prev.amount ?? e.payload.amount };
      }
      case 'PaymentFailed':
        return { ...withStatus('failed'), booking_id: e.payload.booking_id };
      case 'PaymentRefunded': {
        const p = e.payload;
        return {
          ...prev,
          booking_id: p.booking_id,
          refunds: { ...prev.refunds, [p.refund_reference]: { amount_minor: p.amount, currency: p.currency, reason: p.reason } },
        };
      }
      default:
        return prev;
    }
  },
  contributions(_key, doc) {
    const currency = doc.amount?.currency ?? 'unknown';
    const status = paymentStatusOf(doc);
    const counters: CounterContribution[] = [
      { key: paymentStatusKey(status), field: currencyField(currency, 'count'), value: 1 },
      { key: paymentStatusKey(status), field: currencyField(currency, 'amount_minor'), value: doc.amount?.amount_minor ?? 0 },
    ];
    for (const r of Object.values(doc.refunds)) {
      counters.push({ key: REFUNDS_KEY, field: currencyField(r.currency, 'count'), value: 1 });
      counters.push({ key: REFUNDS_KEY, field: currencyField(r.currency, 'amount_minor'), value: r.amount_minor });
    }
    return { counters, indexes: [] };
  },
});

// ── flows in flight: reserved bookings not yet confirmed, cancelled or expired, oldest first ───

export type FlowDoc = {
  readonly status: BookingStatus;
  readonly albergue_id: string;
  /** From BookingReserved: when the flow started, its correlation id, the hold and the beds. */
  readonly reserved_at?: string;
  readonly correlation_id?: string;
  readonly hold_expires_at?: string;
  readonly beds?: number;
  /** When the booking left `reserved` (the time of the event of its final status). */
  readonly ended_at?: string;
};

export const IN_FLIGHT_INDEX = 'in_flight';

export const flows = defineProjection<FlowDoc>({
  name: 'flows',
  description: 'Bookings reserved and not yet confirmed, cancelled or expired, with how long each has waited (oldest first).',
  events: BOOKING_EVENTS,
  indexes: [IN_FLIGHT_INDEX],
  entityOf: bookingKey,
  evolve(doc, e) {
    const facts = bookingFacts(e);
    if (!facts) return doc ?? { status: 'reserved', albergue_id: '' };
    const status = laterBookingStatus(doc?.status, facts.status);
    const { ended_at: _ended, ...rest } = doc ?? { status, albergue_id: facts.albergue_id };
    let next: FlowDoc = { ...rest, status, albergue_id: facts.albergue_id };
    // ended_at belongs to the winning status: kept when that status came earlier, taken from this event when it is this one's.
    if (status !== 'reserved') {
      const ended = status === facts.status ? facts.at : doc?.ended_at;
      if (ended !== undefined) next = { ...next, ended_at: ended };
    }
    if (e.event_type === 'BookingReserved')
      next = {
        ...next,
        reserved_at: e.occurred_at,
        correlation_id: e.correlation_id,
        hold_expires_at: e.payload.hold_expires_at,
        beds: e.payload.beds,
      };
    return next;
  },
  contributions(_key, doc) {
    if (doc.status !== 'reserved' || doc.reserved_at === undefined) return NO_CONTRIBUTIONS;
    const score = instantMs(doc.reserved_at);
    return score === undefined ? NO_CONTRIBUTIONS : { counters: [], indexes: [{ index: IN_FLIGHT_INDEX, score }] };
  },
});

/** Every projection of the operations service, in the order an event is applied to them (also the lock order). */
export const OPERATIONS_PROJECTIONS: readonly Projection[] = [occupancy, bookings, payments, flows];

/** The projection named `name`, or undefined. */
export function projectionNamed(name: string): Projection | undefined {
  return OPERATIONS_PROJECTIONS.find((p) => p.name === name);
}
