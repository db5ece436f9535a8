// Pure building blocks every bounded context's decider shares (no I/O): decisions as values,
// domain errors with a machine code and a human reason, and the exhaustiveness guard.
/**
 * Outcomes of `decide`: errors are values with a machine code (the HTTP layer maps it to a status)
 * and a human reason (shown to the caller as is).
 */
export interface DomainError<C extends string = string> {
  readonly code: C;
  readonly reason: string;
}

/** At least one error: a rejected command says everything that is wrong with it, not only the first thing. */
export type Errors<C extends string = string> = readonly [DomainError<C>, ...DomainError<C>[]];

export type Decision<E, C extends string = string> =
  | {
      readonly ok: true;
      readonly events: readonly E[];
      /** Set when the command was accepted as a deliberate no-op (duplicate, stale or late message). */
      readonly ignored?: DomainError;
    }
  | { readonly ok: false; readonly errors: Errors<C> };

export function accept<E>(...events: E[]): Decision<E, never> {
  return { ok: true, events };
}

export function ignore(code: string, reason: string): Decision<never, never> {
  return { ok: true, events: [], ignored: { code, reason } };
}

export function reject<C extends string>(first: DomainError<C>, ...more: DomainError<C>[]): Decision<never, C> {
  return { ok: false, errors: [first, ...more] };
}

/** Exhaustiveness guard for discriminated unions: a new variant that is not handled fails to compile. */
export function assertNever(value: never): never {
  throw new Error(`unhandled variant: ${JSON.stringify(value)}`);
}

export * from './calendar.js';
