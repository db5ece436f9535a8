// `npm run demo`: walks every value stream through the gateway of a running system (embedded
// `npm start` or `start:services`): reserve → pay → confirmed → mail; declined card → cancelled → mail;
// reserve → hold expires → mail; document accepted and rejected → mail. For each flow it waits for the
// guest's mail at the mail catcher and prints the flow's event tree from the audit service (through the
// gateway, operator key). Running it twice registers nothing twice (the demo albergue has a fixed id,
// every command carries an Idempotency-Key); each run makes new bookings, as a pilgrim would.
//   GATEWAY_URL (default http://127.0.0.1:8080), DEMO_GUEST_KEY / DEMO_HOSTEL_KEY / DEMO_OPERATOR_KEY
//   (default: the development keys), MAIL_CATCHER_URL (default http://127.0.0.1:8025; `off` skips the
//   mail checks, e.g. with a real SMTP_URL), DEMO_HOLD_WAIT_MS (how long to wait for a hold to expire;
//   default 60 s: start the system with BOOKING_HOLD_MS=20000 to watch it).
import { DEV_KEYS } from '@albergue/gateway';

export type FlowName = 'paid' | 'declined' | 'expiry' | 'document-accepted' | 'document-rejected';
export const FLOW_NAMES: readonly FlowName[] = ['paid', 'declined', 'expiry', 'document-accepted', 'document-rejected'];

export interface DemoOptions {
  readonly gatewayUrl: string;
  readonly guestKey: string;
  readonly hostelKey: string;
  /** For the audit trees (`/api/audit/…`); without it no tree is fetched. */
  readonly operatorKey?: string;
  /** The mail catcher's HTTP API (`GET /messages?to=`); without it no mail is awaited. */
  readonly mailCatcherUrl?: string;
  /** Longest wait for a hold to expire; a longer hold is reported as skipped. */
  readonly holdWaitMs: number;
  /**
   * Longest wait for each step the system takes by itself (a status, a payment, a decision; mails and
   * audit trees get twice as long). Default 30 s; a loaded machine needs more.
   */
  readonly stepWaitMs?: number;
  /** The flows to walk (default: all). */
  readonly flows?: readonly FlowName[];
  readonly log: (line: string) => void;
}

/** A mail as the catcher keeps it (the fields the demo reads). */
export interface CaughtMail {
  readonly id: string;
  readonly to: readonly string[];
  readonly subject: string;
  readonly text: string;
  readonly headers: Readonly<Record<string, string | string[]>>;
}

/** A node of an audit flow tree (`GET /audit/flows/{id}`), the fields the demo reads. */
export interface TreeNode {
  readonly event_id: string;
  readonly event_type: string;
  readonly causation_id: string;
  readonly occurred_at: string;
  readonly aggregate: { readonly type: string; readonly id: string };
  readonly delivery?: readonly { readonly subscriber: string; readonly state: string }[];
  readonly children: readonly TreeNode[];
}
export interface FlowTree {
  readonly correlation_id: string;
  readonly event_count: number;
  readonly roots: readonly TreeNode[];
}

export interface FlowResult {
  readonly flow: string;
  readonly name: FlowName;
  readonly outcome: 'ok' | 'skipped' | 'failed';
  readonly detail: string;
  readonly correlationId?: string;
  readonly bookingId?: string;
  readonly documentId?: string;
  readonly email?: string;
  /** The mail that told the outcome (when a mail catcher was given). */
  readonly mail?: CaughtMail;
  /** The flow's event tree from the audit service (when an operator key was given). */
  readonly tree?: FlowTree;
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

/** Every node of a tree, depth first. */
export const walkTree = (nodes: readonly TreeNode[]): TreeNode[] => nodes.flatMap((n) => [n, ...walkTree(n.children)]);

/** The tree as terminal lines: indentation by causation, event type, aggregate, each subscriber's state. */
export function formatTree(tree: FlowTree): string[] {
  const mark = (state: string) => (state === 'processed' ? '✓' : state === 'dead_lettered' ? '✗' : '…');
  const lines = [`flow ${tree.correlation_id} (${tree.event_count} events)`];
  const visit = (n: TreeNode, depth: number) => {
    const deliveries = (n.delivery ?? []).map((d) => `${mark(d.state)} ${d.subscriber}`).join(' ');
    lines.push(`${'  '.repeat(depth + 1)}└ ${n.event_type}  ${n.aggregate.type}/${n.aggregate.id}${deliveries ? `  [${deliveries}]` : ''}`);
    for (const c of n.children) visit(c, depth + 1);
  };
  for (const r of tree.roots) visit(r, 0);
  return lines;
}

/** The events each flow ends with in the audit trail (the tree is awaited until it holds them all). */
export const EXPECTED_EVENTS: Readonly<Record<FlowName, readonly string[]>> = {
  paid: ['BookingReserved', 'PaymentInitiated', 'PaymentConfirmed', 'BookingConfirmed', 'NotificationSent'],
  declined: ['BookingReserved', 'PaymentInitiated', 'PaymentFailed', 'BookingCancelled', 'NotificationSent'],
  expiry: ['BookingReserved', 'ReservationExpired', 'NotificationSent'],
  'document-accepted': ['DocumentValidated', 'NotificationSent'],
  'document-rejected': ['DocumentRejected', 'NotificationSent'],
};

export async function runDemo(o: DemoOptions): Promise<FlowResult[]> {
  // Every request is safe to repeat (commands carry an Idempotency-Key; the albergue's registration
  // hears 409 the second time), so one that times out or finds its key still in progress is sent again,
  // as a careful client would on a slow system: at most 4 attempts of 15 s each.
  const api = async (method: string, path: string, key: string, body?: unknown, headers: Record<string, string> = {}) => {
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await fetch(`${o.gatewayUrl}/api${path}`, {
          method,
          headers: { 'x-api-key': key, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          signal: AbortSignal.timeout(15_000),
        });
      } catch (err) {
        if (attempt >= 4) throw err;
        o.log(`  (${method} ${path}: ${(err as Error).message}; sending it again)`);
        continue;
      }
      const text = await res.text();
      const parsed = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
      if (res.status === 409 && parsed.code === 'idempotency_key_in_use' && attempt < 4) {
        await new Promise((r) => setTimeout(r, 1_000));
        continue;
      }
      return { status: res.status, headers: res.headers, body: parsed };
    }
  };

  const step = o.stepWaitMs ?? 30_000;
  o.log(`Albergue demo through ${o.gatewayUrl}`);
  const registered = await api(
    'POST',
    '/location/albergues',
    o.hostelKey,
    {
      albergue_id: ALBERGUE,
      name: 'Albergue de O Cebreiro (demo)',
      town: 'O Cebreiro',
      location: { lat: 42.7077, lon: -7.0424 },
      beds: 40,
      nightly_price: { amount_minor: 1000, currency: 'EUR' },
    },
    // No Idempotency-Key: a second run must hear 409 (the fixed id), not a replay of the first 201.
  );
  if (registered.status === 201) o.log(`  registered ${ALBERGUE} (hostel key)`);
  else if (registered.status === 409) o.log(`  ${ALBERGUE} is already registered (nothing registered twice)`);
  else throw new Error(`registering the demo albergue: HTTP ${registered.status} ${JSON.stringify(registered.body)}`);
  await until('booking to learn the demo albergue', step, async () =>
    (await api('GET', `/booking/albergues/${ALBERGUE}/availability?from=${day(30)}&to=${day(31)}`, o.guestKey)).status === 200
      ? true
      : undefined,
  );

  const run = `${Date.now().toString(36)}`;
  const guestOf = (flow: FlowName, locale: string) => {
    const guestId = `demo-${run}-${flow}`;
    return { guest_id: guestId, name: 'Demo Peregrina', email: `${guestId}@example.org`, locale };
  };
  const reserve = async (flow: FlowName, locale: string) => {
    const guest = guestOf(flow, locale);
    const r = await api(
      'POST',
      '/booking/bookings',
      o.guestKey,
      { albergue_id: ALBERGUE, check_in: day(30), check_out: day(31), beds: 1, guest },
      { 'idempotency-key': `demo-reserve-${guest.guest_id}` },
    );
    if (r.status !== 201) throw new Error(`${flow}: reserving: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    const booking = r.body as { booking_id: string; hold_expires_at: string };
    const correlationId = r.headers.get('x-correlation-id') ?? undefined;
    o.log(`  [${flow}] reserved ${booking.booking_id} for ${guest.email} (flow ${correlationId})`);
    return { ...booking, guest, correlationId };
  };
  const statusOf = async (bookingId: string) =>
    (await api('GET', `/booking/bookings/${bookingId}`, o.guestKey)).body as { status: string; cancel_reason?: string };
  const waitForStatus = (bookingId: string, status: string, ms = step) =>
    until(`booking ${bookingId} ${status}`, ms, async () => {
      const st = await statusOf(bookingId);
      return st.status === status ? st : undefined;
    });
  const pay = async (flow: FlowName, bookingId: string, card: string) => {
    const payment = await until('the payment to be initiated', step, async () => {
      // Long-poll: answered as soon as payment initiates it (at most 10 s a request), not polled.
      const r = await api('GET', `/payment/bookings/${bookingId}/payment?wait=10`, o.guestKey);
      return r.status === 200 ? (r.body as { payment_id: string }) : undefined;
    });
    const charged = await api(
      'POST',
      `/payment/payments/${payment.payment_id}/charge`,
      o.guestKey,
      { payment_method: card },
      { 'idempotency-key': `demo-charge-${payment.payment_id}` },
    );
    o.log(`  [${flow}] charged ${card} → HTTP ${charged.status}`);
  };
  /** The mail to `email` whose subject matches, from the catcher. */
  const mailTo = async (flow: FlowName, email: string, subject: RegExp): Promise<CaughtMail | undefined> => {
    if (o.mailCatcherUrl === undefined) return undefined;
    const mail = await until(`a mail to ${email} (${subject.source})`, 2 * step, async () => {
      const res = await fetch(`${o.mailCatcherUrl}/messages?to=${encodeURIComponent(email)}`, { signal: AbortSignal.timeout(5_000) });
      if (res.status !== 200) return undefined;
      const { messages } = (await res.json()) as { messages: CaughtMail[] };
      return messages.find((m) => subject.test(m.subject));
    });
    o.log(`  [${flow}] mail to ${email}: "${mail.subject}"`);
    return mail;
  };
  /** The flow's tree from the audit service, once it holds the flow's expected events. */
  const treeOf = async (flow: FlowName, path: string): Promise<FlowTree | undefined> => {
    if (o.operatorKey === undefined) return undefined;
    const key = o.operatorKey;
    const tree = await until(`the audit tree of ${path}`, 2 * step, async () => {
      const r = await api('GET', `/audit/audit/${path}`, key);
      if (r.status !== 200) return undefined;
      const t = r.body as unknown as FlowTree;
      const types = new Set(walkTree(t.roots).map((n) => n.event_type));
      return EXPECTED_EVENTS[flow].every((e) => types.has(e)) ? t : undefined;
    });
    for (const line of formatTree(tree)) o.log(`  [${flow}]   ${line}`);
    return tree;
  };
  const submitDocument = async (flow: FlowName, number: string) => {
    // The document of a guest with a confirmed booking (notifications knows the contact by the booking).
    const b = await reserve(flow, 'en');
    await pay(flow, b.booking_id, '4242 4242 4242 4242');
    await waitForStatus(b.booking_id, 'confirmed');
    const submitted = await api(
      'POST',
      '/documents/documents',
      o.guestKey,
      {
        guest_id: b.guest.guest_id,
        booking_id: b.booking_id,
        document_type: 'dni',
        number,
        issuing_country: 'ESP',
        expires_on: day(3650),
        birth_date: '1980-01-01',
      },
      { 'idempotency-key': `demo-document-${b.guest.guest_id}` },
    );
    if (submitted.status !== 202) throw new Error(`${flow}: submitting: HTTP ${submitted.status} ${JSON.stringify(submitted.body)}`);
    const documentId = (submitted.body as { document_id: string }).document_id;
    const correlationId = submitted.headers.get('x-correlation-id') ?? undefined;
    o.log(`  [${flow}] submitted DNI ${number.slice(0, 2)}****** as ${documentId} (flow ${correlationId})`);
    const decided = await until('the document to be decided', step, async () => {
      const r = await api('GET', `/documents/documents/${documentId}`, o.guestKey);
      const v = r.body as { status: string; reasons?: string[] };
      return v.status !== 'pending' ? v : undefined;
    });
    return { booking: b, documentId, correlationId, decided };
  };

  const flows: Record<FlowName, () => Promise<FlowResult>> = {
    paid: async () => {
      const b = await reserve('paid', 'es');
      await pay('paid', b.booking_id, '4242 4242 4242 4242');
      await waitForStatus(b.booking_id, 'confirmed');
      const mail = await mailTo('paid', b.guest.email, /^Reserva confirmada/);
      const tree = await treeOf('paid', `bookings/${b.booking_id}`);
      return {
        flow: 'reserve → pay → confirmed → mail',
        name: 'paid',
        outcome: 'ok',
        detail: `booking ${b.booking_id} confirmed`,
        ...ids(b),
        ...opt({ mail, tree }),
      };
    },
    declined: async () => {
      const b = await reserve('declined', 'es');
      await pay('declined', b.booking_id, '4000 0000 0000 0002');
      const s = await waitForStatus(b.booking_id, 'cancelled');
      const mail = await mailTo('declined', b.guest.email, /^No pudimos cobrar/);
      const tree = await treeOf('declined', `bookings/${b.booking_id}`);
      return {
        flow: 'declined card → cancelled → mail',
        name: 'declined',
        outcome: 'ok',
        detail: `booking ${b.booking_id} cancelled (${s.cancel_reason})`,
        ...ids(b),
        ...opt({ mail, tree }),
      };
    },
    expiry: async () => {
      const b = await reserve('expiry', 'en');
      const wait = Date.parse(b.hold_expires_at) - Date.now();
      if (wait > o.holdWaitMs)
        return {
          flow: 'reserve → hold expires → mail',
          name: 'expiry',
          outcome: 'skipped',
          detail: `the hold lasts until ${b.hold_expires_at} (over DEMO_HOLD_WAIT_MS=${o.holdWaitMs}); start the system with a shorter BOOKING_HOLD_MS to watch it expire`,
          ...ids(b),
        };
      o.log(`  [expiry] waiting ${Math.ceil(wait / 1000)} s for the hold to expire`);
      await waitForStatus(b.booking_id, 'expired', wait + step);
      const mail = await mailTo('expiry', b.guest.email, /^Your reservation expired/);
      const tree = await treeOf('expiry', `bookings/${b.booking_id}`);
      return {
        flow: 'reserve → hold expires → mail',
        name: 'expiry',
        outcome: 'ok',
        detail: `booking ${b.booking_id} expired`,
        ...ids(b),
        ...opt({ mail, tree }),
      };
    },
    'document-accepted': async () => {
      const d = await submitDocument('document-accepted', '12345678Z');
      if (d.decided.status !== 'validated') throw new Error(`document ${d.documentId} is ${d.decided.status}, not validated`);
      const mail = await mailTo('document-accepted', d.booking.guest.email, /^Document accepted/);
      const tree = d.correlationId === undefined ? undefined : await treeOf('document-accepted', `flows/${d.correlationId}`);
      return {
        flow: 'document accepted → mail',
        name: 'document-accepted',
        outcome: 'ok',
        detail: `document ${d.documentId} validated`,
        bookingId: d.booking.booking_id,
        documentId: d.documentId,
        email: d.booking.guest.email,
        ...opt({ correlationId: d.correlationId, mail, tree }),
      };
    },
    'document-rejected': async () => {
      // A DNI whose check letter is wrong (12345678 mod 23 gives Z).
      const d = await submitDocument('document-rejected', '12345678A');
      if (d.decided.status !== 'rejected') throw new Error(`document ${d.documentId} is ${d.decided.status}, not rejected`);
      const mail = await mailTo('document-rejected', d.booking.guest.email, /^Your document needs a correction/);
      const tree = d.correlationId === undefined ? undefined : await treeOf('document-rejected', `flows/${d.correlationId}`);
      return {
        flow: 'document rejected → mail',
        name: 'document-rejected',
        outcome: 'ok',
        detail: `document ${d.documentId} rejected (${(d.decided.reasons ?? []).join(', ')})`,
        bookingId: d.booking.booking_id,
        documentId: d.documentId,
        email: d.booking.guest.email,
        ...opt({ correlationId: d.correlationId, mail, tree }),
      };
    },
  };
  // The flows run side by side (the hold expiry waits while the others go on); results in the order asked.
  const names = o.flows ?? FLOW_NAMES;
  return Promise.all(
    names.map(async (name): Promise<FlowResult> => {
      try {
        const r = await flows[name]();
        o.log(`  [${name}] ${r.outcome}: ${r.detail}`);
        return r;
      } catch (err) {
        o.log(`  [${name}] failed: ${(err as Error).message}`);
        return { flow: name, name, outcome: 'failed', detail: (err as Error).message };
      }
    }),
  );
}

const ids = (b: { booking_id: string; correlationId?: string | undefined; guest: { email: string } }) => ({
  bookingId: b.booking_id,
  email: b.guest.email,
  ...(b.correlationId !== undefined ? { correlationId: b.correlationId } : {}),
});
/** The defined values only (exactOptionalPropertyTypes). */
const opt = <T extends Record<string, unknown>>(o: T) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };

const key = (scope: string) => DEV_KEYS.find((k) => k.scopes.includes(scope as never))!.key;

if (import.meta.url === `file://${process.argv[1]}`) {
  const mailCatcherUrl = (process.env.MAIL_CATCHER_URL ?? 'http://127.0.0.1:8025').replace(/\/$/, '');
  runDemo({
    gatewayUrl: (process.env.GATEWAY_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, ''),
    guestKey: process.env.DEMO_GUEST_KEY ?? key('guest'),
    hostelKey: process.env.DEMO_HOSTEL_KEY ?? key('hostel'),
    operatorKey: process.env.DEMO_OPERATOR_KEY ?? key('operator'),
    ...(mailCatcherUrl === 'off' ? {} : { mailCatcherUrl }),
    holdWaitMs: Number(process.env.DEMO_HOLD_WAIT_MS ?? 60_000),
    log: (line) => console.log(line),
  }).then(
    (results) => {
      console.log('');
      for (const r of results) console.log(`${r.outcome === 'ok' ? '✓' : r.outcome === 'skipped' ? '-' : '✗'} ${r.flow}: ${r.detail}`);
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
