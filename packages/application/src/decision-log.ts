// Decisions that change nothing — a late or duplicate payment, an amount that does not match, a
// settlement for a payment already settled, a sweep that finds its work done — are acked or answered
// without an effect. They are never dropped silently: each is logged with its reason and counted in
// `decisions_ignored_total{service, decision, reason}` (service is the registry's default label).
import type { Decision, DomainError } from '@albergue/decider';
import type { Logger } from '@albergue/platform';
import { Counter } from 'prom-client';
import type { Registry } from 'prom-client';
import { notApplied } from './results.js';

export interface IgnoredDecision {
  /** The command decided, e.g. ConfirmBooking. */
  readonly decision: string;
  /** Its machine code (the counter's `reason` label) and human reason. */
  readonly ignored: DomainError;
  /** Ids that locate it in the logs: the aggregate, the message (event_id, correlation_id). */
  readonly refs?: Readonly<Record<string, string | undefined>>;
}

/** The port: where application functions report a decision that was not applied. */
export interface DecisionLog {
  ignored(report: IgnoredDecision): void;
}

export const DECISIONS_IGNORED_TOTAL = 'decisions_ignored_total';

/** The adapter: a pino warning and the Prometheus counter, in the service's registry (one per registry). */
export function decisionLog(logger: Logger, registry: Registry): DecisionLog {
  const existing = registry.getSingleMetric(DECISIONS_IGNORED_TOTAL);
  const counter =
    existing instanceof Counter
      ? (existing as Counter<'decision' | 'reason'>)
      : new Counter({
          name: DECISIONS_IGNORED_TOTAL,
          help: 'Decisions that were not applied (deliberate no-ops, late, duplicate or mismatched messages), by decision and reason.',
          labelNames: ['decision', 'reason'] as const,
          registers: [registry],
        });
  return {
    ignored({ decision, ignored, refs }) {
      counter.inc({ decision, reason: ignored.code });
      logger.warn({ ...refs, decision, reason: ignored.code, detail: ignored.reason }, `${decision} not applied: ${ignored.code}`);
    },
  };
}

/**
 * Reports why `decision` (named `name`, e.g. ConfirmBooking) changes nothing — when a decision log is
 * wired: every composition root wires one, unit tests may leave it out — and returns the handler
 * outcome that says so. Call it for a decision that was refused or accepted as a no-op.
 */
export function ignoredOutcome(
  log: DecisionLog | undefined,
  name: string,
  decision: Decision<unknown>,
  refs?: IgnoredDecision['refs'],
): { readonly status: 'ignored'; readonly ignored: DomainError } {
  const ignored = notApplied(decision) ?? { code: 'not_applied', reason: `${name} was reported as not applied but applies` };
  log?.ignored(refs ? { decision: name, ignored, refs } : { decision: name, ignored });
  return { status: 'ignored', ignored };
}
