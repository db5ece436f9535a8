// `npm run broker:mosquitto-config -- --out <dir> [--port 1884] [--ws-port 8884] [--host 127.0.0.1] [--user mosquitto] [--max-packet-size N]`
// Writes mosquitto.conf, passwd, acl (and the same rules as acl.emqx.conf for EMQX) from the declarations the composition root passes
// (scripts/mosquitto-config.ts). Passwords come from BROKER_USERS / BROKER_PASSWORD_<USER>
// (development defaults unless NODE_ENV=production).
import { parseArgs } from 'node:util';
import type { ServiceDeclaration } from '@albergue/messaging';
import { OBSERVER_ACCOUNT, grantsFromDeclarations } from '../application/acl-from-declarations.js';
import { loadCredentials } from '../config/credentials.js';
import { writeMosquittoConfig } from './generate.js';

function port(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`--${name} must be a port number, got "${v}"`);
  return n;
}

/** Runs the generator for `declarations` with `args` (the command line); a usage error sets exit code 2. */
export async function runMosquittoConfigCli(
  declarations: readonly ServiceDeclaration[],
  args: string[] = process.argv.slice(2),
): Promise<void> {
  try {
    const { values } = parseArgs({
      args,
      options: {
        out: { type: 'string' },
        port: { type: 'string' },
        'ws-port': { type: 'string' },
        host: { type: 'string' },
        user: { type: 'string' },
        'max-packet-size': { type: 'string' },
      },
      strict: true,
    });
    if (values.out === undefined) throw new Error('--out <dir> is required');
    const grants = grantsFromDeclarations(declarations);
    const creds = loadCredentials([...declarations.map((d) => d.service), OBSERVER_ACCOUNT]);
    const p = port('port', values.port);
    const ws = port('ws-port', values['ws-port']);
    const rawMax = values['max-packet-size'] ?? process.env.BROKER_MAX_PACKET_SIZE;
    const maxPacketSize = rawMax === undefined || rawMax === '' ? undefined : Number(rawMax);
    if (maxPacketSize !== undefined && (!Number.isInteger(maxPacketSize) || maxPacketSize < 1024 || maxPacketSize > 268_435_455))
      throw new Error(`--max-packet-size / BROKER_MAX_PACKET_SIZE must be an integer from 1024 to 268435455, got "${rawMax}"`);
    const files = await writeMosquittoConfig({
      outDir: values.out,
      grants,
      users: creds.users,
      ...(p !== undefined ? { port: p } : {}),
      ...(ws !== undefined ? { wsPort: ws } : {}),
      ...(values.host !== undefined ? { host: values.host } : {}),
      ...(values.user !== undefined ? { user: values.user } : {}),
      ...(maxPacketSize !== undefined ? { maxPacketSize } : {}),
    });
    console.log(
      `wrote ${files.conf}\n      ${files.passwd}\n      ${files.acl}\n      ${files.emqxAcl} (the same rules for EMQX 5)\nrun: mosquitto -c ${files.conf}`,
    );
    if (creds.devDefaults.length > 0)
      console.warn(`warning: development passwords for ${creds.devDefaults.join(', ')} (set BROKER_PASSWORD_<USER> or BROKER_USERS)`);
  } catch (err) {
    console.error(`broker:mosquitto-config: ${(err as Error).message}`);
    process.exitCode = 2;
  }
}
