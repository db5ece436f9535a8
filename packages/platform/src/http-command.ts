// Command metadata of an HTTP request: its command id (the request id, a UUIDv7 in the service
// runtime), the flow it joins (`x-correlation-id`), and the response headers that report both.
import type { FastifyReply, FastifyRequest } from 'fastify';

export const COMMAND_ID_HEADER = 'x-command-id';
export const CORRELATION_ID_HEADER = 'x-correlation-id';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_RE.test(value);
}

/** What a command handler needs to know about the request that asked for it. */
export interface CommandMeta {
  /** The command id: causation_id of the first event the command emits. */
  readonly command_id: string;
  /** The flow named by a valid `x-correlation-id` header (lowercased); undefined starts a new flow. */
  readonly correlation_id?: string;
}

/** The command id and requested flow of `req` (an invalid header is refused earlier, by the runtime). */
export function commandOf(req: FastifyRequest): CommandMeta {
  const raw = req.headers[CORRELATION_ID_HEADER];
  return isUuid(raw) ? { command_id: req.id, correlation_id: raw.toLowerCase() } : { command_id: req.id };
}

/**
 * Reports the flow a command's events joined: `x-correlation-id` = the first event's correlation_id
 * (a new flow's is its first event_id). Without events the header keeps what the runtime set.
 */
export function reportFlow(reply: FastifyReply, events: readonly { readonly correlation_id: string }[] | undefined): FastifyReply {
  const first = events?.[0];
  if (first) reply.header(CORRELATION_ID_HEADER, first.correlation_id);
  return reply;
}

/**
 * How a command route keeps its Idempotency-Key (see packages/runtime/src/idempotency.ts):
 * `transaction` (default) — key, effect and stored response in one transaction; `lease` — for
 * commands that commit more than once (e.g. record an attempt, then call a provider).
 */
export type IdempotencyMode = 'transaction' | 'lease';

declare module 'fastify' {
  interface FastifyContextConfig {
    idempotency?: IdempotencyMode;
    /** false: the route authenticates its caller by other means and needs no gateway signature (a provider's webhook). */
    gatewaySignature?: false;
  }
}
