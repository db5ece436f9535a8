// `npm run demo`: walks the value streams through the gateway of a running system (embedded
// `npm start` or `start:services`): reserve → pay → confirmed; declined card → cancelled; reserve →
// hold expires. Progress on the terminal. Running it twice registers nothing twice (the demo albergue
// has a fixed id); each run makes new bookings, as a pilgrim would.
//   GATEWAY_URL (default http://127.0.0.1:8080), DEMO_GUEST_KEY / DEMO_HOSTEL_KEY (default: the
//   development keys), DEMO_HOLD_WAIT_MS (how long to wait for a hold to expire; default 60 s).
import { DEV_KEYS } from '@albergue/gateway';

export interface DemoOptions {
  readonly gatewayUrl: string;
  readonly guestKey: string;
  readonly hostelKey: string;
  /** Longest wait for a hold to expire; a longer hold is reported as skipped. */
  readonly holdWaitMs: number;
  readonly log: (line: string) => void;
}

export interface FlowResult {
  readonly flow: string;
  readonly outcome: 'ok' | 'skipped' | 'failed';
  readonly detail: string;
  readonly correlationId?: string;
}

const ALBERGUE = 'demo-albergue-o-cebreiro';
const day = (n: number) => new Date(Date.now() + n * 86_400_000).toISOString().slice(0, 10);

async function until<T>(what: string, deadlineMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function runDemo(o: DemoOptions): Promise<FlowResult[]> {
  const api = async (method: string, path: string, key: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${o.gatewayUrl}/api${path}`, {
      method,
      headers: { 'x-api-key': key, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
  };

  o.log(`Albergue demo through ${o.gatewayUrl}`);
  const registered = await api('POST', '/location/albergues', o.hostelKey, {
    albergue_id: ALBERGUE,
    name: 'Albergue de O Cebreiro (demo)',
    town: 'O Cebreiro',
    location: { lat: 42.7077, lon: -7.0424 },
    beds: 40,
    nightly_price: { amount_minor: 1000, currency: 'EUR' },
  });
  if (registered.status === 201) o.log(`  registered ${ALBERGUE} (hostel key)`);
  else if (registered.status === 409) o.log(`  ${ALBERGUE} is already registered (nothing registered twice)`);
  else throw new Error(`registering the demo albergue: HTTP ${registered.status} ${JSON.stringify(registered.body)}`);
  await until('booking to learn the demo albergue', 30_000, async () =>
    (await api('GET', `/booking/albergues/${ALBERGUE}/availability?from=${day(30)}&to=${day(31)}`, o.guestKey)).status === 200
      ? true
      : undefined,
  );

  let n = 0;
  const reserve = async (flow: string) => {
    n++;
    const guestId = `demo-${Date.now().toString(36)}-${n}`;
    const r = await api(
      'POST',
      '/booking/bookings',
      o.guestKey,
      {
        albergue_id: ALBERGUE,
        check_in: day(30),
        check_out: day(31),
        beds: 1,
        guest: { guest_id: guestId, name: 'Demo Peregrina', email: `${guestId}@example.org`, locale: 'es' },
      },
      { 'idempotency-key': `demo-${guestId}` },
    );
    if (r.status !== 201) throw new Error(`${flow}: reserving: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    const booking = r.body as { booking_id: string; hold_expires_at: string };
    o.log(`  [${flow}] reserved ${booking.booking_id} (flow ${r.headers.get('x-correlation-id')})`);
    return { ...booking, correlationId: r.headers.get('x-correlation-id') ?? undefined };
  };
  const statusOf = async (bookingId: string) =>
    (await api('GET', `/booking/bookings/${bookingId}`, o.guestKey)).body as { status: string; cancel_reason?: string };
  const pay = async (flow: string, bookingId: string, card: string) => {
    const payment = await until('the payment to be initiated', 30_000, async () => {
      const r = await api('GET', `/payment/bookings/${bookingId}/payment`, o.guestKey);
      return r.status === 200 ? (r.body as { payment_id: string }) : undefined;
    });
    const charged = await api('POST', `/payment/payments/${payment.payment_id}/charge`, o.guestKey, { payment_method: card });
    o.log(`  [${flow}] charged ${card} → HTTP ${charged.status}`);
  };
  const flows: [string, () => Promise<FlowResult>][] = [
    [
      'paid',
      async () => {
        const b = await reserve('paid');
        await pay('paid', b.booking_id, '4242 4242 4242 4242');
        await until('the booking confirmed', 30_000, async () =>
          (await statusOf(b.booking_id)).status === 'confirmed' ? true : undefined,
        );
        return { flow: 'reserve → pay → confirmed', outcome: 'ok', detail: `booking ${b.booking_id} confirmed`, ...flowId(b) };
      },
    ],
    [
      'declined',
      async () => {
        const b = await reserve('declined');
        await pay('declined', b.booking_id, '4000 0000 0000 0002');
        const s = await until('the booking cancelled', 30_000, async () => {
          const st = await statusOf(b.booking_id);
          return st.status === 'cancelled' ? st : undefined;
        });
        return {
          flow: 'declined card → cancelled',
          outcome: 'ok',
          detail: `booking ${b.booking_id} cancelled (${s.cancel_reason})`,
          ...flowId(b),
        };
      },
    ],
    [
      'expiry',
      async () => {
        const b = await reserve('expiry');
        const wait = Date.parse(b.hold_expires_at) - Date.now();
        if (wait > o.holdWaitMs)
          return {
            flow: 'reserve → hold expires',
            outcome: 'skipped',
            detail: `the hold lasts until ${b.hold_expires_at}; start the system with a shorter BOOKING_HOLD_MS to watch it expire`,
            ...flowId(b),
          };
        await until('the hold to expire', wait + 30_000, async () =>
          (await statusOf(b.booking_id)).status === 'expired' ? true : undefined,
        );
        return { flow: 'reserve → hold expires', outcome: 'ok', detail: `booking ${b.booking_id} expired`, ...flowId(b) };
      },
    ],
  ];
  const results: FlowResult[] = [];
  for (const [name, run] of flows) {
    try {
      const r = await run();
      o.log(`  [${name}] ${r.outcome}: ${r.detail}`);
      results.push(r);
    } catch (err) {
      o.log(`  [${name}] failed: ${(err as Error).message}`);
      results.push({ flow: name, outcome: 'failed', detail: (err as Error).message });
    }
  }
  return results;
}

const flowId = (b: { correlationId?: string | undefined }) => (b.correlationId !== undefined ? { correlationId: b.correlationId } : {});

const key = (scope: string) => DEV_KEYS.find((k) => k.scopes.includes(scope as never))!.key;

if (import.meta.url === `file://${process.argv[1]}`) {
  runDemo({
    gatewayUrl: (process.env.GATEWAY_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, ''),
    guestKey: process.env.DEMO_GUEST_KEY ?? key('guest'),
    hostelKey: process.env.DEMO_HOSTEL_KEY ?? key('hostel'),
    holdWaitMs: Number(process.env.DEMO_HOLD_WAIT_MS ?? 60_000),
    log: (line) => console.log(line),
  }).then(
    (results) => {
      const failed = results.filter((r) => r.outcome === 'failed');
      console.log(failed.length === 0 ? 'Demo finished.' : `Demo finished with ${failed.length} failed flow(s).`);
      process.exit(failed.length === 0 ? 0 : 1);
    },
    (err: unknown) => {
      console.error(`demo: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
