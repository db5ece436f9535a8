/**
 * MQTT client ids belong to accounts: account `<a>` may only connect as `albergue-<a>-…`, so no
 * account can resume (and drain) or discard another account's persistent session. When account
 * names nest (`pay` and `pay-x`), an id belongs to the account with the longest matching prefix.
 */
export const ANONYMOUS_ACCOUNT = 'anonymous';

export function clientIdPrefix(account: string): string {
  return `albergue-${account}-`;
}

/** The account that owns `clientId`, or undefined when it is under no account's prefix. */
export function clientIdOwner(clientId: string, accounts: Iterable<string>): string | undefined {
  let owner: string | undefined;
  for (const a of accounts) {
    const prefix = clientIdPrefix(a);
    // A bare prefix is not an id: something must follow the dash.
    if (clientId.length > prefix.length && clientId.startsWith(prefix) && (owner === undefined || a.length > owner.length)) owner = a;
  }
  return owner;
}
