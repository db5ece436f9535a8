// `node services/gateway/dist/cli.js keygen <client_id> <scope>[,<scope>…] [guest_id]`: prints a new
// random API key (give it to the client, once) and the entry for GATEWAY_KEYS (its hash only).
import { randomBytes } from 'node:crypto';
import { keyHashOf, parseKeyList } from './application/keys.js';

const [command, clientId, scopes, guestId] = process.argv.slice(2);
if (command !== 'keygen' || clientId === undefined || scopes === undefined) {
  console.error('usage: node services/gateway/dist/cli.js keygen <client_id> <guest|hostel|operator>[,…] [guest_id]');
  process.exit(2);
}
const key = `alb_${randomBytes(32).toString('base64url')}`;
try {
  const [entry] = parseKeyList(
    [{ client_id: clientId, key_hash: keyHashOf(key), scopes: scopes.split(','), ...(guestId !== undefined ? { guest_id: guestId } : {}) }],
    'arguments',
  );
  console.log(`key (give it to the client; it is not stored): ${key}`);
  console.log(`GATEWAY_KEYS entry: ${JSON.stringify(entry)}`);
} catch (err) {
  console.error((err as Error).message);
  process.exit(2);
}
