import type { EventDefinition } from './define.js';
import type { EventEnvelope, EventMeta } from './envelope.js';
import { newEventId } from './envelope.js';
import { deepFreeze } from './readonly.js';
import { baseEnvelopeSchema, eventSchema } from './schema.js';
import type { Problem, ValidateFunction } from './validation.js';
import { createAjv, formatProblems, problemsOf } from './validation.js';
import { eventTopic } from './topics.js';
import { DEFAULT_MAX_DEPTH, jsonTextTooDeep, jsonValueProblem } from './limits.js';

/** Turns a payload of `fromVersion` into a payload of `fromVersion + 1` of the same event type. */
export interface Upcaster {
  readonly eventType: string;
  readonly fromVersion: number;
  readonly upcast: (payload: Record<string, unknown>, envelope: EventEnvelope) => Record<string, unknown>;
}

export interface ParseOptions {
  /** Version the consumer reads; older events are upcast to it. Default: the newest defined. */
  readonly targetVersion?: number;
  /** When given, the envelope must belong to this topic (logical or MQTT form). */
  readonly topic?: string;
  /** Refuse input larger than this many bytes (object input: its approximate JSON size). Default 256 KiB. */
  readonly maxBytes?: number;
  /** Refuse input nested deeper than this many objects/arrays (the envelope is level 1). Default 64. */
  readonly maxDepth?: number;
}

export type ParseResult =
  | { readonly ok: true; readonly event: EventEnvelope; readonly upcastedFrom?: number }
  | { readonly ok: false; readonly reason: string; readonly problems: readonly Problem[] };

export class EventValidationError extends Error {
  constructor(
    readonly problems: readonly Problem[],
    what: string,
  ) {
    super(`${what}: ${formatProblems(problems)}`);
    this.name = 'EventValidationError';
  }
}

export const DEFAULT_MAX_BYTES = 256 * 1024;

const fail = (problems: Problem[]): ParseResult => ({ ok: false, reason: formatProblems(problems), problems });

/**
 * A set of event definitions and upcasters with their compiled validators.
 * Validators are compiled once, on first use, from the same JSON Schemas that are committed to the repo.
 */
export class EventRegistry {
  private readonly ajv = createAjv();
  /** First-problem validators: the verdict on the hot path (parse); `ajv`'s list every problem. */
  private readonly fastAjv = createAjv({ allErrors: false });
  private readonly byKey = new Map<string, { def: EventDefinition; validate: ValidateFunction; check: ValidateFunction }>();
  private readonly latestVersion = new Map<string, number>();
  private readonly upcasters = new Map<string, Upcaster>();
  private readonly validateBase: ValidateFunction;

  constructor(definitions: readonly EventDefinition[] = [], upcasters: readonly Upcaster[] = []) {
    this.validateBase = this.ajv.compile(baseEnvelopeSchema());
    for (const d of definitions) this.register(d);
    for (const u of upcasters) this.addUpcaster(u);
  }

  register(def: EventDefinition): this {
    const key = `${def.name}@${def.version}`;
    if (this.byKey.has(key)) throw new Error(`event ${def.name} v${def.version} is defined twice`);
    // Compiled on first use: compiling every definition at import cost most of a service's start-up CPU.
    const { ajv, fastAjv } = this;
    let validate: ValidateFunction | undefined;
    let check: ValidateFunction | undefined;
    this.byKey.set(key, {
      def,
      get validate() {
        return (validate ??= ajv.compile(eventSchema(def)));
      },
      get check() {
        return (check ??= fastAjv.compile(eventSchema(def)));
      },
    });
    this.latestVersion.set(def.name, Math.max(def.version, this.latestVersion.get(def.name) ?? 0));
    return this;
  }

  addUpcaster(u: Upcaster): this {
    this.upcasters.set(`${u.eventType}@${u.fromVersion}`, u);
    return this;
  }

  definitions(): EventDefinition[] {
    return [...this.byKey.values()].map((e) => e.def);
  }

  definition(eventType: string, version: number): EventDefinition | undefined {
    return this.byKey.get(`${eventType}@${version}`)?.def;
  }

  latest(eventType: string): EventDefinition | undefined {
    const v = this.latestVersion.get(eventType);
    return v === undefined ? undefined : this.definition(eventType, v);
  }

  /** Validates an envelope object against its event's schema; problems are listed with JSON paths. */
  validate(envelope: unknown): Problem[] {
    // Bounded and storable before ajv walks it (recursively).
    const bad = jsonValueProblem(envelope, { maxDepth: DEFAULT_MAX_DEPTH });
    if (bad) return [bad];
    if (!this.validateBase(envelope)) return problemsOf(this.validateBase.errors);
    const env = envelope as EventEnvelope;
    const entry = this.byKey.get(`${env.event_type}@${env.event_version}`);
    if (!entry) return [this.unknownProblem(env.event_type, env.event_version)];
    return entry.validate(envelope) ? [] : problemsOf(entry.validate.errors);
  }

  /** Builds a new, validated, deeply frozen envelope for `def`. Throws on an invalid payload (a bug). */
  create<D extends EventDefinition>(
    def: D,
    payload: Parameters<D['aggregateId']>[0],
    meta: EventMeta = {},
  ): EventEnvelope<D['name'], Parameters<D['aggregateId']>[0], D['version']> {
    const eventId = meta.event_id ?? newEventId();
    const occurred = meta.occurred_at ?? new Date();
    const envelope = {
      event_id: eventId,
      event_type: def.name,
      event_version: def.version,
      aggregate_type: def.aggregateType,
      aggregate_id: meta.aggregate_id ?? def.aggregateId(payload),
      occurred_at: typeof occurred === 'string' ? occurred : occurred.toISOString(),
      correlation_id: meta.correlation_id ?? eventId,
      causation_id: meta.causation_id ?? eventId,
      payload: structuredClone(payload),
    };
    if (!this.byKey.has(`${def.name}@${def.version}`)) this.register(def);
    const problems = this.validate(envelope);
    if (problems.length > 0) throw new EventValidationError(problems, `invalid ${def.name} v${def.version}`);
    return deepFreeze(envelope);
  }

  /**
   * Reads untrusted input (JSON text, bytes or an object) into a validated, frozen envelope at the
   * consumer's version, upcasting older versions. Never throws: every problem comes back with its path.
   */
  parse(input: unknown, options: ParseOptions = {}): ParseResult {
    try {
      return this.parseUnsafe(input, options);
    } catch (err) {
      // Last line of defence (a hostile getter, a Proxy, an engine limit): a result, never a throw.
      return fail([{ path: '/', message: `unreadable input: ${err instanceof Error ? err.message : String(err)}` }]);
    }
  }

  private parseUnsafe(input: unknown, options: ParseOptions): ParseResult {
    const max = options.maxBytes ?? DEFAULT_MAX_BYTES;
    const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
    let value: unknown = input;
    let text: string | undefined;
    if (typeof input === 'string' || input instanceof Uint8Array) {
      const size = typeof input === 'string' ? Buffer.byteLength(input) : input.byteLength;
      if (size > max) return fail([{ path: '/', message: `message is ${size} bytes, larger than the ${max}-byte limit` }]);
      text = typeof input === 'string' ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('utf8');
      if (jsonTextTooDeep(text, maxDepth)) return fail([{ path: '/', message: `nested deeper than the limit of ${maxDepth} levels` }]);
      try {
        value = JSON.parse(text);
      } catch (err) {
        return fail([{ path: '/', message: `not JSON: ${(err as Error).message}` }]);
      }
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return fail([
        {
          path: '/',
          message: `envelope must be a JSON object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`,
        },
      ]);
    }
    // Depth, size, plain JSON and storable text, checked without recursion before ajv,
    // structuredClone and deepFreeze (all recursive) touch the value. Parsed text whose depth was
    // scanned and that cannot hold NUL or a lone surrogate skips the walk (the common case).
    if (text === undefined || !textSurelyStorable(text)) {
      const bad = jsonValueProblem(value, value === input ? { maxDepth, maxBytes: max } : { maxDepth });
      if (bad) return fail([bad]);
    }
    const env = value as EventEnvelope;
    // A known type and version: its schema checks the whole envelope, base fields included, so the
    // base schema runs only to explain an envelope whose type or version names no definition.
    const entry =
      typeof env.event_type === 'string' && typeof env.event_version === 'number'
        ? this.byKey.get(`${env.event_type}@${env.event_version}`)
        : undefined;
    if (!entry) {
      if (!this.validateBase(value)) return fail(problemsOf(this.validateBase.errors));
      return fail([this.unknownProblem(env.event_type, env.event_version)]);
    }
    if (options.topic !== undefined) {
      const expected = options.topic.replaceAll('/', '.');
      if (entry.def.topic !== expected) {
        return fail([{ path: '/event_type', message: `${entry.def.topic} does not belong on topic ${expected}` }]);
      }
    }
    if (!entry.check(env)) {
      entry.validate(env);
      return fail(problemsOf(entry.validate.errors));
    }

    const target = options.targetVersion ?? this.latestVersion.get(env.event_type) ?? env.event_version;
    if (target === env.event_version) return { ok: true, event: deepFreeze(structuredCloneIfNeeded(env, input)) };
    if (target < env.event_version) {
      return fail([
        {
          path: '/event_version',
          message: `${env.event_type} v${env.event_version} is newer than this consumer reads (v${target}); upgrade the consumer`,
        },
      ]);
    }
    return this.upcast(env, target, maxDepth);
  }

  private upcast(env: EventEnvelope, target: number, maxDepth: number): ParseResult {
    let current = structuredClone(env) as EventEnvelope & { payload: Record<string, unknown>; event_version: number };
    const from = env.event_version;
    while (current.event_version < target) {
      const u = this.upcasters.get(`${current.event_type}@${current.event_version}`);
      if (!u) {
        return fail([
          {
            path: '/event_version',
            message: `no upcaster for ${current.event_type} from v${current.event_version} to v${current.event_version + 1}`,
          },
        ]);
      }
      let payload: Record<string, unknown>;
      try {
        payload = u.upcast(current.payload, current);
      } catch (err) {
        return fail([
          {
            path: '/payload',
            message: `upcaster v${current.event_version}→v${current.event_version + 1} failed: ${(err as Error).message}`,
          },
        ]);
      }
      current = { ...current, event_version: current.event_version + 1, payload };
    }
    const entry = this.byKey.get(`${current.event_type}@${target}`);
    if (!entry) return fail([this.unknownProblem(current.event_type, target)]);
    // An upcaster is code: what it returns is checked like input.
    const bad = jsonValueProblem(current, { maxDepth });
    if (bad) return fail([{ ...bad, message: `after upcasting from v${from}: ${bad.message}` }]);
    if (!entry.validate(current)) {
      return fail(problemsOf(entry.validate.errors).map((p) => ({ ...p, message: `after upcasting from v${from}: ${p.message}` })));
    }
    return { ok: true, event: deepFreeze(current), upcastedFrom: from };
  }

  private unknownProblem(eventType: string, version: number): Problem {
    const known = [...this.byKey.values()].filter((e) => e.def.name === eventType).map((e) => e.def.version);
    return known.length === 0
      ? { path: '/event_type', message: `unknown event type "${eventType}"` }
      : { path: '/event_version', message: `unknown version ${version} of ${eventType} (known: ${known.sort().join(', ')})` };
  }

  topicOf(eventType: string, version: number): string {
    const def = this.definition(eventType, version);
    return def ? def.topic : eventTopic('unknown', version, eventType);
  }
}

/** `\u0000`, or a `\uD800`–`\uDFFF` escape (false positives only cost the full walk). */
const SUSPECT_ESCAPE = /\\u(?:0000|[dD][89a-fA-F])/;

/** JSON text (or bytes) whose parsed strings cannot contain NUL or a lone surrogate. */
function textSurelyStorable(input: string): boolean {
  return (input as unknown as { isWellFormed(): boolean }).isWellFormed() && !SUSPECT_ESCAPE.test(input);
}

// Parsed JSON is ours to freeze; an object handed in by a caller is copied first.
function structuredCloneIfNeeded(env: EventEnvelope, input: unknown): EventEnvelope {
  return env === input ? structuredClone(env) : env;
}
