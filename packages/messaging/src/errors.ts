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

  constructor(message: string, options: { readonly code?: string; readonly cause?: unknown } = {}) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'PermanentError';
    const code = options.code ?? 'permanent_error';
    if (!CODE.test(code)) throw new TypeError(`PermanentError code must be snake_case (got ${JSON.stringify(code)})`);
    this.code = code;
  }
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
    if (p.permanent === true && typeof p.code === 'string' && CODE.test(p.code)) return { code: p.code, message: typeof p.message === 'string' ? p.message : p.code };
  }
  return undefined;
}
