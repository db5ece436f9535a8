// The combined OpenAPI document: every service's /openapi.json, paths under /api/<context>,
// components merged without clashes, the API-key security schemes and each operation's scopes from
// the policy table. Cached and refreshed; a service that does not answer is left out with a warning.
import type { Logger } from '@albergue/platform';
import { PROBLEM_CONTENT_TYPE } from '@albergue/platform/http';
import type { RoutePolicy } from '../../domain/policy.js';

type Json = Record<string, unknown>;

interface OpenApiSource {
  readonly context: string;
  readonly url: string;
}

export interface CombinedOpenApiOptions {
  readonly sources: readonly OpenApiSource[];
  readonly policy: RoutePolicy;
  /** Fetches one service's document (the gateway signs it when a shared secret is set). */
  readonly fetchJson: (url: string) => Promise<unknown>;
  readonly logger: Logger;
  /** Refresh when older than this (default 60 s). */
  readonly maxAgeMs?: number;
  readonly now?: () => number;
}

const PROBLEM_REF = { $ref: '#/components/schemas/GatewayProblem' };
const GATEWAY_RESPONSES: Record<string, string> = {
  '401': 'No API key, or an unknown one (send Authorization: Bearer <key> or x-api-key).',
  '403': 'The key has none of the scopes this operation needs.',
  '429': 'Rate limit of the key on this route exceeded: Retry-After and RateLimit-* headers say when to retry.',
  '502': 'The service behind the gateway did not answer.',
};

/** A component name as the context prefixes it on a clash: booking + Guest → BookingGuest. */
const prefixed = (context: string, name: string) =>
  `${context.charAt(0).toUpperCase()}${context.slice(1).replace(/-(\w)/g, (_m, c: string) => c.toUpperCase())}${name}`;

function rewriteRefs(value: unknown, renames: ReadonlyMap<string, string>): unknown {
  // Iterative on a copy: service documents are ours, but depth must not be able to overflow the stack.
  const root = structuredClone(value);
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (Array.isArray(v)) stack.push(...(v as unknown[]));
    else if (typeof v === 'object' && v !== null) {
      const o = v as Json;
      if (typeof o.$ref === 'string') {
        const to = renames.get(o.$ref);
        if (to !== undefined) o.$ref = to;
      }
      for (const child of Object.values(o)) if (typeof child === 'object' && child !== null) stack.push(child);
    }
  }
  return root;
}

/** Combines documents (pure): exported for tests. */
export function combineOpenApi(parts: readonly { context: string; doc: Json }[], policy: RoutePolicy, warnings: readonly string[]): Json {
  const components: Record<string, Json> = {};
  const paths: Json = {};
  for (const { context, doc } of parts) {
    // Components: the same name with the same content is shared; another content gets the context's prefix.
    const renames = new Map<string, string>();
    const own = (doc.components ?? {}) as Record<string, Json>;
    for (const [kind, entries] of Object.entries(own)) {
      const target = (components[kind] ??= {});
      for (const [name, schema] of Object.entries(entries)) {
        let final = name;
        const existing = target[name];
        if (existing !== undefined && JSON.stringify(existing) !== JSON.stringify(schema)) {
          final = prefixed(context, name);
          renames.set(`#/components/${kind}/${name}`, `#/components/${kind}/${final}`);
        }
        target[final] = schema;
      }
    }
    // A renamed component's own references follow too.
    for (const [kind, entries] of Object.entries(own))
      for (const name of Object.keys(entries)) {
        const final = renames.get(`#/components/${kind}/${name}`)?.split('/').pop() ?? name;
        components[kind]![final] = rewriteRefs(components[kind]![final], renames);
      }
    for (const [path, item] of Object.entries((doc.paths ?? {}) as Record<string, Json>)) {
      const full = `/api/${context}${path}`;
      const ops = rewriteRefs(item, renames) as Json;
      for (const [method, op] of Object.entries(ops)) {
        if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
        const o = op as Json;
        const segments = path.split('/').slice(1);
        const match = policy.match(method.toUpperCase(), { context, segments, upstreamPath: path, query: '' });
        const scopes = match ? [...match.entry.scopes] : [];
        o.security = [{ ApiKeyHeader: [] }, { BearerKey: [] }];
        o['x-albergue-scopes'] = scopes;
        o.description = `${typeof o.description === 'string' ? `${o.description}\n\n` : ''}${
          match ? `Needs an API key with one of the scopes: ${scopes.join(', ')}.` : 'No gateway policy: refused (403) for every key.'
        }`;
        const responses = (o.responses ??= {}) as Json;
        for (const [status, description] of Object.entries(GATEWAY_RESPONSES))
          responses[status] ??= { description, content: { [PROBLEM_CONTENT_TYPE]: { schema: PROBLEM_REF } } };
      }
      paths[full] = ops;
    }
  }
  const schemas = (components.schemas ??= {});
  schemas.GatewayProblem = {
    type: 'object',
    description: 'RFC 9457 problem details.',
    required: ['type', 'title', 'status', 'detail', 'code'],
    properties: {
      type: { type: 'string' },
      title: { type: 'string' },
      status: { type: 'integer' },
      detail: { type: 'string' },
      code: { type: 'string' },
      errors: { type: 'array', items: { type: 'object' } },
    },
  };
  components.securitySchemes = {
    ...(components.securitySchemes ?? {}),
    ApiKeyHeader: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'A client API key.' },
    BearerKey: { type: 'http', scheme: 'bearer', description: 'The same key as `Authorization: Bearer <key>`.' },
  };
  return {
    openapi: '3.0.3',
    info: {
      title: 'Albergue API (through the gateway)',
      version: '1.0.0',
      description: [
        'Every service of the Albergue network under one address: `/api/<context>/…`. Every operation needs an API key ',
        '(`x-api-key` or `Authorization: Bearer`) with one of the scopes listed on it (`guest`, `hostel`, `operator`). ',
        'Answers carry `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`; a 429 carries `Retry-After`.',
        ...(warnings.length > 0 ? ['\n\n**Incomplete:** ', warnings.join('; ')] : []),
      ].join(''),
    },
    ...(warnings.length > 0 ? { 'x-albergue-warnings': [...warnings] } : {}),
    paths,
    components,
  };
}

/** The combined document, cached; a refresh never fails (missing parts are listed as warnings). */
export class CombinedOpenApi {
  private cached: { at: number; ttlMs: number; doc: Json } | undefined;
  private refreshing: Promise<Json> | undefined;

  constructor(private readonly o: CombinedOpenApiOptions) {}

  async get(): Promise<Json> {
    const now = (this.o.now ?? Date.now)();
    if (this.cached && now - this.cached.at < this.cached.ttlMs) return this.cached.doc;
    return this.refresh();
  }

  refresh(): Promise<Json> {
    this.refreshing ??= this.build().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async build(): Promise<Json> {
    const warnings: string[] = [];
    const results = await Promise.all(
      this.o.sources.map(async (s) => {
        try {
          const doc = await this.o.fetchJson(`${s.url}/openapi.json`);
          if (typeof doc !== 'object' || doc === null || typeof (doc as Json).paths !== 'object')
            throw new Error('not an OpenAPI document');
          return { context: s.context, doc: doc as Json };
        } catch (err) {
          const why = `${s.context} (${s.url}) is left out: ${(err as Error).message}`;
          warnings.push(why);
          this.o.logger.warn({ context: s.context }, `combined OpenAPI: ${why}`);
          return undefined;
        }
      }),
    );
    const parts = results.filter((r): r is { context: string; doc: Json } => r !== undefined);
    const doc = combineOpenApi(parts, this.o.policy, warnings);
    // An incomplete document is retried sooner: a service that was starting is there within seconds.
    const maxAgeMs = this.o.maxAgeMs ?? 60_000;
    this.cached = { at: (this.o.now ?? Date.now)(), ttlMs: warnings.length > 0 ? Math.min(maxAgeMs, 2_000) : maxAgeMs, doc };
    return doc;
  }
}
