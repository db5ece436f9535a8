import type { ProviderSettlement } from '../../application/ports.js';
import { signCallback } from './simulated-card-network.js';

export const SIGNATURE_HEADER = 'x-albergue-signature';

/**
 * The simulated network's webhook: POSTs a settlement as JSON to payment's callback endpoint,
 * signed with HMAC-SHA256 of the exact body in `x-albergue-signature`. Throws on a network error or
 * a non-2xx answer, so the network retries the delivery.
 */
export function httpCallbackDeliverer(options: { readonly url: string; readonly secret: string; readonly timeoutMs?: number }) {
  return async (settlement: ProviderSettlement): Promise<void> => {
    const body = JSON.stringify(settlement);
    const res = await fetch(options.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signCallback(body, options.secret) },
      body,
      signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
    });
    if (!res.ok) throw new Error(`callback ${options.url} answered ${res.status}: ${await res.text()}`);
  };
}
