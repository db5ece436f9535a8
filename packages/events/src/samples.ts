import type { PayloadOf } from './define.js';
import type * as D from './definitions/index.js';

/**
 * One valid example payload per event: used by the catalog, the docs and tests across packages.
 * Keep it realistic — it is what a reader of the catalog sees first.
 */
export const SAMPLE_PAYLOADS: {
  [K in D.AnyEventDefinition as K['name']]: PayloadOf<K>;
} = {
  AlbergueRegistered: {
    albergue_id: 'alb-orisson',
    name: 'Refuge Orisson',
    town: 'Uhart-Cize',
    route: 'Camino Francés',
    location: { lat: 43.1097, lon: -1.2403 },
    beds: 28,
    nightly_price: { amount_minor: 4600, currency: 'EUR' },
  },
  AlbergueCapacityChanged: { albergue_id: 'alb-orisson', beds: 30, previous_beds: 28, effective_from: '2027-05-01' },
  BookingReserved: {
    booking_id: 'bk-01',
    albergue_id: 'alb-orisson',
    guest: { guest_id: 'g-01', name: 'Ana Peregrina', email: 'ana@example.org', locale: 'es' },
    check_in: '2027-05-01',
    check_out: '2027-05-03',
    beds: 1,
    total: { amount_minor: 9200, currency: 'EUR' },
    hold_expires_at: '2027-04-20T10:15:00.000Z',
  },
  BookingConfirmed: { booking_id: 'bk-01', albergue_id: 'alb-orisson', payment_id: 'pay-01', confirmed_at: '2027-04-20T10:02:00.000Z' },
  BookingCancelled: { booking_id: 'bk-01', albergue_id: 'alb-orisson', reason: 'guest_request', cancelled_at: '2027-04-21T08:00:00.000Z' },
  ReservationExpired: {
    booking_id: 'bk-01',
    albergue_id: 'alb-orisson',
    hold_expires_at: '2027-04-20T10:15:00.000Z',
    expired_at: '2027-04-20T10:15:01.000Z',
  },
  PaymentInitiated: {
    payment_id: 'pay-01',
    booking_id: 'bk-01',
    amount: { amount_minor: 9200, currency: 'EUR' },
    provider: 'simcard',
    initiated_at: '2027-04-20T10:00:05.000Z',
  },
  PaymentConfirmed: {
    payment_id: 'pay-01',
    booking_id: 'bk-01',
    amount: { amount_minor: 9200, currency: 'EUR' },
    provider_reference: 'sim_ch_0001',
    confirmed_at: '2027-04-20T10:01:00.000Z',
  },
  PaymentFailed: {
    payment_id: 'pay-01',
    booking_id: 'bk-01',
    reason_code: 'card_declined',
    reason: 'The card was declined.',
    failed_at: '2027-04-20T10:01:00.000Z',
  },
  PaymentRefunded: {
    payment_id: 'pay-01',
    booking_id: 'bk-01',
    amount: 9200,
    currency: 'EUR',
    reason: 'booking_cancelled',
    provider_reference: 'sim_ch_0001',
    refund_reference: 'sim_ch_0001_refund',
    refunded_at: '2027-04-21T08:00:05.000Z',
  },
  DocumentValidated: {
    document_id: 'doc-01',
    guest_id: 'g-01',
    booking_id: 'bk-01',
    document_type: 'dni',
    document_number_masked: '*****678Z',
    issuing_country: 'ESP',
    expires_on: '2031-01-01',
    validated_at: '2027-04-20T10:05:00.000Z',
  },
  DocumentRejected: {
    document_id: 'doc-02',
    guest_id: 'g-01',
    document_type: 'passport',
    reasons: ['expired', 'checksum_mismatch'],
    rejected_at: '2027-04-20T10:05:00.000Z',
  },
  NotificationSent: {
    notification_id: 'ntf-01',
    channel: 'email',
    template: 'booking-confirmed',
    recipient_masked: 'a***@example.org',
    related_event_id: '0190d9c2-7b4e-7cc0-8a11-1f2e3d4c5b6a',
    sent_at: '2027-04-20T10:02:05.000Z',
  },
  NotificationFailed: {
    notification_id: 'ntf-02',
    channel: 'email',
    template: 'reservation-expired',
    related_event_id: '0190d9c2-7b4e-7cc0-8a11-1f2e3d4c5b6a',
    error: '550 mailbox unavailable',
    failed_at: '2027-04-20T10:20:00.000Z',
  },
  AuditLogged: {
    audit_id: 'aud-01',
    audited_event_id: '0190d9c2-7b4e-7cc0-8a11-1f2e3d4c5b6a',
    audited_event_type: 'BookingReserved',
    topic: 'albergue.booking.v1.BookingReserved',
    correlation_id: '0190d9c2-7b4e-7cc0-8a11-1f2e3d4c5b6a',
    logged_at: '2027-04-20T10:00:01.000Z',
  },
  RateLimitExceeded: {
    client_key_hash: '9f86d081884c7d65',
    route: 'POST /api/bookings',
    limit: 60,
    window_s: 60,
    at: '2027-04-20T10:00:00.000Z',
  },
};
