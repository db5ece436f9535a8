// A mix of pilgrim flows through the public HTTP APIs, shared by the projection end-to-end tests:
// flow i is, by i % 5, a hold that expires, a declined card, a confirmed booking, a booking confirmed
// (or expired first) then cancelled by the guest, or a guest cancellation before paying.
import { strict as assert } from 'node:assert';
import { waitFor } from '@albergue/platform/testing';
import type { Urls } from './guest.js';
import { http, reservation } from './guest.js';

const DECLINED_CARD = '4000000000000002';
const GOOD_CARD = '4242424242424242';

/** Runs flow `i` (guest `base + i`) against albergue `albergueId`. */
async function mixedFlow(urls: Urls, albergueId: string, i: number, base: number): Promise<void> {
  const guest = base + i;
  const r = await http<{ booking_id: string }>('POST', `${urls.booking}/bookings`, reservation(albergueId, guest));
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const bookingId = r.body.booking_id;
  const kind = i % 5;
  if (kind === 0) return; // the hold expires
  if (kind === 4) {
    const c = await http('POST', `${urls.booking}/bookings/${bookingId}/cancel`, { guest_id: `guest-${guest}` });
    assert.equal(c.status, 200, JSON.stringify(c.body));
    return;
  }
  const payment = await waitFor(
    async () => {
      const p = await http<{ payment_id: string }>('GET', `${urls.payment}/bookings/${bookingId}/payment?wait=8`);
      return p.status === 200 ? p.body : undefined;
    },
    { timeoutMs: 30_000, message: `PaymentInitiated for ${bookingId}` },
  );
  const card = kind === 1 ? DECLINED_CARD : GOOD_CARD;
  const charged = await http('POST', `${urls.payment}/payments/${payment.payment_id}/charge`, { payment_method: card });
  assert.ok(charged.status === 202 || charged.status === 409, JSON.stringify(charged.body)); // 409: the hold ended first
  if (kind === 3) {
    await waitFor(
      async () =>
        ['confirmed', 'expired'].includes((await http<{ status: string }>('GET', `${urls.booking}/bookings/${bookingId}`)).body.status),
      { timeoutMs: 30_000, message: `${bookingId} to settle` },
    );
    await http('POST', `${urls.booking}/bookings/${bookingId}/cancel`, { guest_id: `guest-${guest}` });
  }
}

/** `flows` mixed flows over `albergues`, `concurrency` at a time. */
export async function runFlowMix(urls: Urls, albergues: readonly string[], flows: number, base = 10_000, concurrency = 25): Promise<void> {
  for (let i = 0; i < flows; i += concurrency)
    await Promise.all(
      Array.from({ length: Math.min(concurrency, flows - i) }, (_, k) =>
        mixedFlow(urls, albergues[(i + k) % albergues.length]!, i + k, base),
      ),
    );
}
