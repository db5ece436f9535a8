// What application functions answer.
import type { Decision, DomainError, Errors } from '@albergue/decider';
import type { EventEnvelope } from '@albergue/events';

/**
 * A command handler's answer: the new view and the events it emitted, or every reason it refused.
 * `ignored` is set when the command was accepted as a deliberate no-op (nothing changed).
 */
export type CommandResult<V> =
  | { readonly ok: true; readonly value: V; readonly events: readonly EventEnvelope[]; readonly ignored?: DomainError }
  | { readonly ok: false; readonly errors: Errors };

/**
 * An event handler's (or a sweep's) answer: `applied` with the events emitted (plus what the
 * service adds, `Extra`), or `ignored`: a deliberate no-op, the message is acked.
 */
export type HandlerOutcome<Extra extends object = object> =
  | ({ readonly status: 'applied'; readonly events: readonly EventEnvelope[] } & Extra)
  | { readonly status: 'ignored'; readonly ignored: DomainError };

/**
 * Why a decision changes nothing, or undefined when it applies: a refusal (for an event, nothing to
 * answer to, so its first reason) or an accepted no-op (duplicate, stale or late message).
 */
export function notApplied(decision: Decision<unknown>): DomainError | undefined {
  return decision.ok ? decision.ignored : decision.errors[0];
}
