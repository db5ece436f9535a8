// The operator CLI: every command is a call to the broker's admin HTTP API with the admin token, so
// it works against any running system (embedded, or on Redis) and never touches Redis itself.
import { parseArgs } from 'node:util';
import { DEV_ADMIN_TOKEN } from './config/credentials.js';

const DEFAULT_BROKER_URL = 'http://127.0.0.1:8090';

export const USAGE = `usage: albergue-broker [--url URL] [--token TOKEN] <command>
  dlq list
  dlq show <topic> [--offset N] [--limit N] [--id ID [--subscriber S]]
  dlq replay <topic> [--id ID ...] [--subscriber S] [--dry-run]
  dlq purge <topic> [--id ID ...] [--subscriber S] --yes
  circuits list
  circuits reset <subscriber> <topic>
  subscriptions list
  subscriptions delete <subscriber> [--topic-filter F]
  retained list <topic or filter>
  retained clear <topic or filter> --yes
env: BROKER_URL (default ${DEFAULT_BROKER_URL}), BROKER_ADMIN_TOKEN (default: the development token)
topics are logical (albergue.booking.v1.BookingReserved) or MQTT (albergue/booking/#)`;

/** Bad usage: exit code 2 with the usage text. */
export class UsageError extends Error {}

/** The broker answered with an error (an RFC 9457 problem): one line, exit code 1. */
export class BrokerError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** No broker answered at the URL: one line, exit code 1. */
export class BrokerUnreachableError extends Error {}

export interface CliOptions {
  /** Defaults: BROKER_URL / --url, BROKER_ADMIN_TOKEN / --token. */
  readonly env?: Record<string, string | undefined>;
  /** Per-request timeout (default 10 s). */
  readonly timeoutMs?: number;
}

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer, got "${v}"`);
  return n;
}

const seg = (s: string) => encodeURIComponent(s);

/** Runs one CLI command against the broker's HTTP API; the result is the API's JSON answer. */
export async function runCommand(argv: string[], options: CliOptions = {}): Promise<unknown> {
  const env = options.env ?? process.env;
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        url: { type: 'string' },
        token: { type: 'string' },
        id: { type: 'string', multiple: true },
        subscriber: { type: 'string' },
        offset: { type: 'string' },
        limit: { type: 'string' },
        'topic-filter': { type: 'string' },
        'dry-run': { type: 'boolean' },
        yes: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  const [group, command, ...rest] = positionals;
  if (values.help || group === undefined) throw new UsageError('');
  const base = (values.url ?? (env.BROKER_URL || undefined) ?? DEFAULT_BROKER_URL).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+/.test(base)) throw new UsageError(`--url / BROKER_URL must be an http(s) URL, got "${base}"`);
  const token = values.token ?? (env.BROKER_ADMIN_TOKEN || undefined) ?? DEV_ADMIN_TOKEN;
  const need = (what: string, v: string | undefined): string => {
    if (v === undefined) throw new UsageError(`missing <${what}>`);
    return v;
  };
  const api = (method: string, path: string, body?: unknown) => request(base, token, method, path, body, options.timeoutMs ?? 10_000);
  const narrow = {
    ...(values.id ? { ids: values.id } : {}),
    ...(values.subscriber !== undefined ? { subscriber: values.subscriber } : {}),
  };

  switch (`${group} ${command ?? ''}`) {
    case 'dlq list':
      return api('GET', '/api/mqtt/dlq');
    case 'dlq show': {
      const topic = need('topic', rest[0]);
      if (values.id?.[0] !== undefined) {
        return api(
          'GET',
          `/api/mqtt/dlq/${seg(topic)}/${seg(values.id[0])}${values.subscriber !== undefined ? `?subscriber=${seg(values.subscriber)}` : ''}`,
        );
      }
      const q = new URLSearchParams();
      const offset = int('offset', values.offset);
      const limit = int('limit', values.limit);
      if (offset !== undefined) q.set('offset', String(offset));
      if (limit !== undefined) q.set('limit', String(limit));
      return api('GET', `/api/mqtt/dlq/${seg(topic)}${q.size > 0 ? `?${q.toString()}` : ''}`);
    }
    case 'dlq replay':
      return api('POST', `/api/mqtt/dlq/${seg(need('topic', rest[0]))}/replay`, { ...narrow, dry_run: values['dry-run'] ?? false });
    case 'dlq purge': {
      const topic = need('topic', rest[0]);
      if (!values.yes) throw new UsageError('purge deletes dead letters for good: add --yes (see what is there with `dlq show <topic>`)');
      return api('POST', `/api/mqtt/dlq/${seg(topic)}/purge`, narrow);
    }
    case 'circuits list':
      return api('GET', '/api/mqtt/circuits');
    case 'circuits reset':
      return api('POST', '/api/mqtt/circuits/reset', { subscriber: need('subscriber', rest[0]), topic: need('topic', rest[1]) });
    case 'subscriptions list':
      return api('GET', '/api/mqtt/subscriptions');
    case 'subscriptions delete': {
      const subscriber = need('subscriber', rest[0]);
      const f = values['topic-filter'];
      return api('DELETE', `/api/mqtt/subscriptions/${seg(subscriber)}${f !== undefined ? `?topic_filter=${seg(f)}` : ''}`);
    }
    case 'retained list':
      return api('GET', `/api/mqtt/retained?topic=${seg(need('topic', rest[0]))}`);
    case 'retained clear': {
      const topic = need('topic', rest[0]);
      if (!values.yes) throw new UsageError('clear removes retained messages for good: add --yes (see them with `retained list <topic>`)');
      return api('DELETE', `/api/mqtt/retained?topic=${seg(topic)}`);
    }
    default:
      throw new UsageError(`unknown command "${positionals.join(' ')}"`);
  }
}

async function request(base: string, token: string, method: string, path: string, body: unknown, timeoutMs: number): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why =
      (err as Error).name === 'TimeoutError'
        ? `no answer within ${timeoutMs} ms`
        : (cause?.code ?? cause?.message ?? (err as Error).message);
    throw new BrokerUnreachableError(`no broker answers at ${base} (${why}); start one or set BROKER_URL / --url`);
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    throw new BrokerUnreachableError(
      `${base} answered ${res.status} with something that is not the broker's JSON; is BROKER_URL the broker's HTTP port?`,
    );
  }
  if (!res.ok) {
    const p = (json ?? {}) as { title?: string; detail?: string };
    const hint = res.status === 401 ? ' (set BROKER_ADMIN_TOKEN or --token)' : '';
    throw new BrokerError(res.status, `${res.status} ${p.title ?? res.statusText}: ${p.detail ?? text.slice(0, 200)}${hint}`);
  }
  return json;
}
