import { request } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';

/** A request with the target exactly as given: fetch would normalise `..` and `%2e%2e`, and drops Connection. */
export function rawRequest(
  base: string,
  target: string,
  headers: Record<string, string> = {},
  method = 'GET',
  body?: string,
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    // Node frames a body by chunked encoding for POST/PUT/PATCH only: a DELETE's body needs its length.
    const framed =
      body === undefined ||
      Object.keys(headers).some((h) => h.toLowerCase() === 'content-length' || h.toLowerCase() === 'transfer-encoding')
        ? headers
        : { ...headers, 'content-length': String(Buffer.byteLength(body)) };
    const req = request({ host: u.hostname, port: u.port, path: target, method, headers: framed, timeout: 5_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
