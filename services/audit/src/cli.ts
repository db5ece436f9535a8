// `npx albergue-audit flow <booking_id|correlation_id>`: the flow as a tree with each event's
// delivery state, from the audit service (AUDIT_URL, default http://127.0.0.1:8106).
// Exit code 2 on usage errors, 1 when the flow is unknown or the service cannot be reached.
import { renderFlow } from './cli-render.js';
import type { FlowView } from './application/queries.js';

const USAGE = `usage: albergue-audit flow <booking_id|correlation_id> [--json]
  AUDIT_URL   the audit service (default http://127.0.0.1:8106)`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function get(base: string, path: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(new URL(path, base), { signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as unknown };
  } catch {
    return { status: res.status, body: text };
  }
}

async function main(args: string[]): Promise<number> {
  const json = args.includes('--json');
  const rest = args.filter((a) => a !== '--json');
  if (rest[0] !== 'flow' || rest.length !== 2 || !rest[1]) {
    console.error(USAGE);
    return 2;
  }
  const id = rest[1];
  const base = process.env.AUDIT_URL || 'http://127.0.0.1:8106';
  // A booking id first (what an operator is asked about); a UUID that is no booking is a correlation id.
  let r = await get(base, `/audit/bookings/${encodeURIComponent(id)}`);
  if (r.status === 404 && UUID.test(id)) r = await get(base, `/audit/flows/${id.toLowerCase()}`);
  if (r.status !== 200) {
    const detail = (r.body as { detail?: string } | undefined)?.detail ?? JSON.stringify(r.body);
    console.error(`albergue-audit: ${r.status === 404 ? `no flow found for ${id}` : `audit answered ${r.status}: ${detail}`}`);
    return 1;
  }
  const flow = r.body as FlowView;
  console.log(json ? JSON.stringify(flow, null, 2) : renderFlow(flow, { color: process.stdout.isTTY && !process.env.NO_COLOR }));
  return 0;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  console.error(`albergue-audit: ${(err as Error).message.split('\n')[0]} (is the audit service running at AUDIT_URL?)`);
  process.exitCode = 1;
}
