// A pilgrim's journey through the public HTTP APIs, shared by the end-to-end tests.
import { strict as assert } from 'node:assert';
import mqtt from 'mqtt';
import type { EventEnvelope } from '@albergue/events';
import { parseEnvelope } from '@albergue/events';
import { uniqueName, waitFor } from '@albergue/platform/testing';

export interface Urls {
  readonly location: string;
  readonly booking: string;
  readonly payment: string;
}

export async function http<T = Record<string, unknown>>(method: string, url: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(url, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
}

/** YYYY-MM-DD `days` from today (UTC). */
export function day(days: number): string {
  return new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
}

export function reservation(albergueId: string, n: number, nights = 2, beds = 1) {
  return {
    albergue_id: albergueId,
    guest: { guest_id: `guest-${n}`, name: `Pilgrim ${n}`, email: `pilgrim${n}@example.org`, locale: 'es' },
    check_in: day(20),
    check_out: day(20 + nights),
    beds,
  };
}

/** Waits until booking has heard of the albergue (it learns it from location's events only). */
export async function waitUntilBookable(urls: Urls, albergueId: string): Promise<void> {
  await waitFor(
    async () => (await http('GET', `${urls.booking}/albergues/${albergueId}/availability?from=${day(20)}&to=${day(21)}`)).status === 200,
    {
      timeoutMs: 30_000,
      message: `booking to learn albergue ${albergueId} from AlbergueRegistered`,
    },
  );
}

/** Reserve, wait for payment to initiate, pay with `card`; returns ids. */
export async function reserveAndPay(
  urls: Urls,
  albergueId: string,
  n: number,
  card: string,
): Promise<{ bookingId: string; paymentId: string }> {
  const reserved = await http<{ booking_id: string; status: string }>('POST', `${urls.booking}/bookings`, reservation(albergueId, n));
  assert.equal(reserved.status, 201, JSON.stringify(reserved.body));
  assert.equal(reserved.body.status, 'reserved');
  const bookingId = reserved.body.booking_id;
  const payment = await waitFor(
    async () => {
      const r = await http<{ payment_id: string; status: string }>('GET', `${urls.payment}/bookings/${bookingId}/payment?wait=8`);
      return r.status === 200 ? r.body : undefined;
    },
    { timeoutMs: 30_000, message: 'PaymentInitiated for the booking' },
  );
  const charged = await http('POST', `${urls.payment}/payments/${payment.payment_id}/charge`, { payment_method: card });
  assert.equal(charged.status, 202, JSON.stringify(charged.body));
  return { bookingId, paymentId: payment.payment_id };
}

export async function waitForBookingStatus(urls: Urls, bookingId: string, status: string): Promise<Record<string, unknown>> {
  return waitFor(
    async () => {
      const r = await http<{ status: string }>('GET', `${urls.booking}/bookings/${bookingId}`);
      return r.body.status === status ? r.body : undefined;
    },
    { timeoutMs: 30_000, message: `booking ${bookingId} to become ${status}` },
  );
}

/** Every valid event on `filter`, as the read-only observer account sees it (`seen` grows live). */
export async function observeEvents(
  brokerUrl: string,
  filter = 'albergue/#',
): Promise<{ readonly seen: EventEnvelope[]; close(): Promise<void> }> {
  const seen: EventEnvelope[] = [];
  const client = await mqtt.connectAsync(brokerUrl, {
    clientId: `albergue-observer-${uniqueName('e2e')}`,
    username: 'observer',
    password: 'observer-dev-password',
  });
  client.on('message', (_topic, payload) => {
    const r = parseEnvelope(payload);
    if (r.ok) seen.push(r.event);
  });
  await client.subscribeAsync(filter, { qos: 1 });
  return { seen, close: () => client.endAsync() };
}

/** Registers a new albergue with `beds` beds at location and waits until booking has learnt it. */
export async function registerAlbergue(urls: Urls, beds: number): Promise<string> {
  const id = uniqueName('alb').replace(/_/g, '-');
  const r = await http('POST', `${urls.location}/albergues`, {
    albergue_id: id,
    name: `Albergue ${id}`,
    town: 'Sarria',
    location: { lat: 42.78, lon: -7.41 },
    beds,
    nightly_price: { amount_minor: 1200, currency: 'EUR' },
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  await waitUntilBookable(urls, id);
  return id;
}
