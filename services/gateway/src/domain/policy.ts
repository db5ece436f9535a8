// Who may call what: the gateway's route policy table, `<METHOD> /api/<context>/<pattern> → scopes`.
// Deny by default: a request that matches no entry is refused, whatever its key. Pure.
import type { PublicPath } from './path.js';

export const SCOPES = ['guest', 'hostel', 'operator'] as const;
export type Scope = (typeof SCOPES)[number];

export interface PolicyEntry {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** OpenAPI form, as the combined document spells it: `/api/booking/bookings/{booking_id}`. */
  readonly path: string;
  /** Any one of these scopes is enough. */
  readonly scopes: readonly Scope[];
}

/** A matched entry with the path parameters of the request. */
export interface PolicyMatch {
  readonly entry: PolicyEntry;
  /** The route pattern (rate limits are per pattern, never per raw path). */
  readonly route: string;
  readonly params: Readonly<Record<string, string>>;
}

const G: readonly Scope[] = ['guest', 'operator'];
const H: readonly Scope[] = ['hostel', 'operator'];
const O: readonly Scope[] = ['operator'];
const ANY: readonly Scope[] = ['guest', 'hostel', 'operator'];

/**
 * The policy of every service route. A route a service adds needs an entry here, or the gateway
 * refuses it (and `policy-coverage.test.ts`, which reads the combined OpenAPI, fails).
 * Reading the network (albergues, availability) needs any key; guest data needs `guest`; hostel
 * operations need `hostel`; money and ledger administration need `operator` (which can do all).
 */
export const DEFAULT_POLICY: readonly PolicyEntry[] = [
  // location
  { method: 'GET', path: '/api/location/albergues', scopes: ANY },
  { method: 'GET', path: '/api/location/albergues/{albergue_id}', scopes: ANY },
  { method: 'POST', path: '/api/location/albergues', scopes: H },
  { method: 'POST', path: '/api/location/albergues/{albergue_id}/capacity', scopes: H },
  // booking
  { method: 'GET', path: '/api/booking/albergues/{albergue_id}/availability', scopes: ANY },
  { method: 'POST', path: '/api/booking/bookings', scopes: G },
  { method: 'GET', path: '/api/booking/bookings/{booking_id}', scopes: G },
  { method: 'POST', path: '/api/booking/bookings/{booking_id}/cancel', scopes: G },
  { method: 'GET', path: '/api/booking/guests/{guest_id}/bookings', scopes: G },
  // payment
  { method: 'GET', path: '/api/payment/payments/{payment_id}', scopes: G },
  { method: 'GET', path: '/api/payment/bookings/{booking_id}/payment', scopes: G },
  { method: 'POST', path: '/api/payment/payments/{payment_id}/charge', scopes: G },
  // The card network's settlement callback: the provider is not a client of the gateway; operators only.
  { method: 'POST', path: '/api/payment/payments/callback', scopes: O },
  { method: 'GET', path: '/api/payment/refunds', scopes: O },
  { method: 'POST', path: '/api/payment/refunds/{refund_id}/retry', scopes: O },
  // documents: a guest (the guest app) submits and reads its own documents by the id it was given;
  // the list per booking is the hostel's check-in view (who of the booking has a valid document).
  { method: 'POST', path: '/api/documents/documents', scopes: G },
  { method: 'GET', path: '/api/documents/documents/{document_id}', scopes: G },
  { method: 'GET', path: '/api/documents/bookings/{booking_id}/documents', scopes: H },
  // notifications: what was sent about a booking or to a guest (a bound guest key: only its own
  // `guest_id`, also in the query); forgetting a contact is an erasure request staff handle.
  { method: 'GET', path: '/api/notifications/notifications', scopes: G },
  { method: 'DELETE', path: '/api/notifications/contacts/{guest_id}', scopes: O },
  // audit: the event trail and each flow's tree hold guests' contacts: operators only.
  { method: 'GET', path: '/api/audit/audit/events', scopes: O },
  { method: 'GET', path: '/api/audit/audit/flows/{correlation_id}', scopes: O },
  { method: 'GET', path: '/api/audit/audit/bookings/{booking_id}', scopes: O },
  // operations: the read models of the whole network (live and Postgres reports): operators only.
  ...(['/operations', '/operations/reports'] as const).flatMap((prefix) =>
    ['occupancy', 'bookings', 'payments', 'flows-in-flight'].map((r) => ({
      method: 'GET' as const,
      path: `/api/operations${prefix}/${r}`,
      scopes: O,
    })),
  ),
  { method: 'GET', path: '/api/operations/operations/projections', scopes: O },
];

interface CompiledEntry {
  readonly entry: PolicyEntry;
  readonly context: string;
  /** Segments after /api/<context>: a literal, or `{ param }`. */
  readonly parts: readonly (string | { readonly param: string })[];
  readonly literals: number;
}

/** The policy table, compiled for matching; refuses malformed entries and duplicates at start. */
export class RoutePolicy {
  private readonly entries: CompiledEntry[];

  constructor(table: readonly PolicyEntry[]) {
    const seen = new Set<string>();
    this.entries = table.map((entry) => {
      const [empty, api, context, ...rest] = entry.path.split('/');
      if (empty !== '' || api !== 'api' || context === undefined || rest.length === 0)
        throw new Error(`policy entry ${entry.method} ${entry.path}: paths are /api/<context>/…`);
      if (entry.scopes.length === 0) throw new Error(`policy entry ${entry.method} ${entry.path} names no scope`);
      const parts = rest.map((p) => {
        const m = /^\{([a-z_][a-z0-9_]*)\}$/.exec(p);
        if (m) return { param: m[1]! };
        if (p === '' || /[{}]/.test(p)) throw new Error(`policy entry ${entry.method} ${entry.path}: bad segment "${p}"`);
        return p;
      });
      const shape = `${entry.method} /${context}/${parts.map((p) => (typeof p === 'string' ? p : '{}')).join('/')}`;
      if (seen.has(shape)) throw new Error(`policy entry ${entry.method} ${entry.path} is listed twice`);
      seen.add(shape);
      return { entry, context, parts, literals: parts.filter((p) => typeof p === 'string').length };
    });
    // The most literal pattern wins (`/refunds/failed` before `/refunds/{id}`).
    this.entries.sort((a, b) => b.literals - a.literals);
  }

  get table(): readonly PolicyEntry[] {
    return this.entries.map((e) => e.entry);
  }

  /** The entry for a method (HEAD is GET) and a checked path, or undefined (deny). */
  match(method: string, path: PublicPath): PolicyMatch | undefined {
    const m = method === 'HEAD' ? 'GET' : method;
    for (const c of this.entries) {
      if (c.entry.method !== m || c.context !== path.context || c.parts.length !== path.segments.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < c.parts.length && ok; i++) {
        const part = c.parts[i]!;
        const seg = path.segments[i]!;
        if (typeof part === 'string') ok = part === seg;
        else params[part.param] = seg;
      }
      if (ok) return { entry: c.entry, route: `${c.entry.method} ${c.entry.path}`, params };
    }
    return undefined;
  }

  /** Methods with an entry for the path (for 405's Allow), sorted. */
  methodsFor(path: PublicPath): string[] {
    const out = new Set<string>();
    for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) if (this.match(method, path)) out.add(method);
    return [...out].sort();
  }
}

/**
 * The guest ids a request names: its `{guest_id}` path parameter and every `guest_id` query parameter
 * (decoded, as the service's query parser reads them: `guest%5Fid=…` and repeated names included).
 * A key bound to a guest may name only that guest.
 */
export function guestIdsOf(match: PolicyMatch, query: string): string[] {
  const ids = match.params.guest_id === undefined ? [] : [match.params.guest_id];
  if (query !== '') ids.push(...new URLSearchParams(query).getAll('guest_id'));
  return ids;
}

/** Whether a client with `scopes` may use the entry. */
export function allowed(entry: PolicyEntry, scopes: readonly Scope[]): boolean {
  return entry.scopes.some((s) => scopes.includes(s));
}
