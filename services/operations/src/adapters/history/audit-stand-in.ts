// A loopback HTTP server that answers the audit service's `GET /audit/events` contract from an
// EventHistory: the peer the HTTP adapter is tested against until the real audit service is merged.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EventHistory } from '../../application/ports.js';

export interface AuditStandIn {
  readonly url: string;
  /** Requests answered so far. */
  readonly requests: number;
  close(): Promise<void>;
}

export async function startAuditStandIn(history: EventHistory, o: { readonly maxLimit?: number } = {}): Promise<AuditStandIn> {
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': status === 200 ? 'application/json' : 'application/problem+json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET' || url.pathname !== '/audit/events') return send(404, { type: 'urn:albergue:problem:not_found', status: 404 });
    const limit = Math.min(Number(url.searchParams.get('limit') ?? '100'), o.maxLimit ?? 1000);
    history.page(url.searchParams.get('cursor'), limit).then(
      (page) => send(200, page),
      (err: unknown) => send(400, { type: 'urn:albergue:problem:invalid_request', status: 400, detail: String(err) }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    close: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
}
