const CODE = /^[a-z][a-z0-9_]{0,63}$/;

/**
 * Thrown by a handler for a message that can never succeed, however often it is retried (a
 * business rule refuses it, it refers to something that cannot exist, it is invalid for this
 * consumer). The router dead-letters it at once (`reason: permanent_error`, with `code`), spends
 * no retries on it and does not count it toward the circuit breaker: one poison message is not an
 * outage. Anything else a handler throws is transient (retried with backoff, counted by the breaker).
 */
export class PermanentError extends Error {
  /** snake_case reason code, kept in the DLQ entry. */
  readonly code: string;
  readonly permanent = true as const;

  /**
   * `new PermanentError(message, { code, cause })`, or `new PermanentError(message, code)`; the
   * reversed `new PermanentError(code, message)` is recognised when only the first is snake_case.
   * `reason` / `reasonCode` are accepted for `code`.
   */
  constructor(message: string, options: PermanentErrorOptions | string = {}) {
    let text = message;
    let o: PermanentErrorOptions = typeof options === 'string' ? { code: options } : options;
    if (typeof options === 'string' && CODE.test(message) && !CODE.test(options)) {
      text = options;
      o = { code: message };
    }
    super(text, o.cause !== undefined ? { cause: o.cause } : undefined);
    this.name = 'PermanentError';
    // Never throws (a throw here would turn poison into a transient failure): any code is normalised.
    this.code = toCode(String(o.code ?? o.reason ?? o.reasonCode ?? 'permanent_error'));
  }

  /** The reason code (same as `code`). */
  get reason(): string {
    return this.code;
  }
}

export interface PermanentErrorOptions {
  /** snake_case reason code (default `permanent_error`). */
  readonly code?: string;
  readonly reason?: string;
  readonly reasonCode?: string;
  readonly cause?: unknown;
}

function toCode(raw: string): string {
  if (CODE.test(raw)) return raw;
  const c = raw
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^[^a-z]+/, '')
    .slice(0, 64);
  return c === '' ? 'permanent_error' : c;
}

/**
 * Whether `err` is a permanent failure: a PermanentError, also one from another copy of this package
 * (recognised by its `permanent: true` and string `code`), or one wrapped as the `cause` of another
 * error (middleware that wraps errors must not turn poison into an outage).
 */
export function permanentErrorOf(err: unknown): { readonly code: string; readonly message: string } | undefined {
  for (let e = err, i = 0; e !== null && typeof e === 'object' && i < 8; e = (e as { cause?: unknown }).cause, i++) {
    if (e instanceof PermanentError) return { code: e.code, message: e.message };
    const p = e as { permanent?: unknown; code?: unknown; message?: unknown };
    if (p.permanent === true) {
      const code = typeof p.code === 'string' ? toCode(p.code) : 'permanent_error';
      return { code, message: typeof p.message === 'string' ? p.message : code };
    }
  }
  return undefined;
}

/** Whether `err` (or an error in its `cause` chain) is a permanent failure. */
export const isPermanentError = (err: unknown): boolean => permanentErrorOf(err) !== undefined;
