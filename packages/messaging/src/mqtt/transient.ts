/**
 * Whether a ledger failure may go away by itself (retry the same write later) — the ledger is
 * unreachable, restarting, failing over or out of memory — as opposed to a failure that the same
 * write will meet again (a script error on this message, a refused name), which must not hold
 * back the messages behind it.
 */
const TRANSIENT_NAMES = new Set(['MaxRetriesPerRequestError', 'AbortError', 'TimeoutError']);
const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
  'NR_CLOSED',
]);
const TRANSIENT_MESSAGE =
  /connection is closed|stream isn't writeable|enableofflinequeue|command timed out|timed out|socket closed|unavailable|^(LOADING|BUSY|TRYAGAIN|READONLY|CLUSTERDOWN|MASTERDOWN|NOREPLICAS|OOM|MISCONF)\b/i;

export function isTransientLedgerError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (TRANSIENT_NAMES.has(err.name)) return true;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return true;
  return TRANSIENT_MESSAGE.test(err.message);
}
