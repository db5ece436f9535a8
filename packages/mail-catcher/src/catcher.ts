// A real SMTP server on loopback that keeps what it receives and shows it over HTTP: the embedded
// default's mail server (`npm start`) and the tests' (port 0). It delivers nothing anywhere.
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import type { AddressObject } from 'mailparser';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import type { SMTPServerAddress, SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import type { Logger } from '@albergue/platform';
import { envInt, envPort, listenOrExplain, PROBLEM_CONTENT_TYPE, problem } from '@albergue/platform';

/** A message as the catcher shows it (snake_case, like every API of the project). */
export interface CaughtMessage {
  readonly id: string;
  /** The envelope sender (MAIL FROM), else the From header's address. */
  readonly from: string;
  /** The envelope recipients (RCPT TO), lower-cased. */
  readonly to: readonly string[];
  readonly subject: string;
  readonly text: string;
  readonly html?: string;
  /** Message-ID, Date, Content-Language and every X-Albergue-* header, names lower-cased. */
  readonly headers: Readonly<Record<string, string>>;
  /** Size of the raw message in bytes. */
  readonly size: number;
  readonly received_at: string;
}

/** How the SMTP side misbehaves, to simulate outages and refusals. */
export type SmtpFailureMode =
  /** Accepts everything (normal). */
  | 'none'
  /** Not listening: connections are refused (a server that is down). */
  | 'refuse'
  /** Listening, but every transaction gets 451 (a temporary failure, 4xx). */
  | 'tempfail'
  /** Listening, but every recipient gets 550 (a permanent refusal, 5xx). */
  | 'reject';

export interface MailCatcherOptions {
  /** Default MAIL_CATCHER_SMTP_PORT or 1025; 0 picks a free port. */
  readonly smtpPort?: number;
  /** Default MAIL_CATCHER_HTTP_PORT or 8025; 0 picks a free port. */
  readonly httpPort?: number;
  readonly host?: string;
  /** Also writes every message as `<id>.eml` into this folder (created when missing). */
  readonly dir?: string;
  readonly logger?: Logger;
  /** Largest message accepted (552 above it); default MAIL_CATCHER_MAX_BYTES or 1 MiB. */
  readonly maxMessageBytes?: number;
  /** Messages kept; the oldest (and its file) is dropped beyond it. Default MAIL_CATCHER_MAX_MESSAGES or 1000. */
  readonly maxMessages?: number;
  readonly env?: Record<string, string | undefined>;
}

export interface MailCatcher {
  /** e.g. smtp://127.0.0.1:1025 */
  readonly smtpUrl: string;
  /** e.g. http://127.0.0.1:8025 */
  readonly httpUrl: string;
  readonly smtpPort: number;
  readonly httpPort: number;
  /** Messages received so far, oldest first; only those to `to` when given. */
  messages(filter?: { readonly to?: string }): CaughtMessage[];
  /** The raw message (RFC 5322 bytes) of a kept message. */
  raw(id: string): Buffer | undefined;
  /** Resolves with the messages matching `predicate` once there is at least one; rejects after `timeoutMs` (default 10 s). */
  waitFor(
    predicate: (m: CaughtMessage) => boolean,
    options?: { readonly timeoutMs?: number; readonly count?: number },
  ): Promise<CaughtMessage[]>;
  /** Forgets every message (and its file). */
  clear(): void;
  /** Simulates an outage: `refuse` (default) stops listening, `tempfail` answers 451, `reject` answers 550 to recipients. */
  stopAccepting(mode?: Exclude<SmtpFailureMode, 'none'>): Promise<void>;
  /** Back to normal: listening again on the same port, accepting everything. */
  resume(): Promise<void>;
  /** Answers 550 to RCPT TO of this address (lower-cased) from now on: a permanent refusal of one recipient. */
  rejectRecipient(address: string): void;
  /**
   * A slow server: from now on every message is kept at once but its 250 answer comes `ms` later (0:
   * at once again) — the case where a sender gives up on a mail that was in fact delivered.
   */
  answerLate(ms: number): void;
  readonly failureMode: SmtpFailureMode;
  close(): Promise<void>;
}

const HEADERS_KEPT = new Set(['message-id', 'date', 'content-language', 'in-reply-to', 'references']);

function smtpError(message: string, responseCode: number): Error {
  return Object.assign(new Error(message), { responseCode });
}

function addressText(a: AddressObject | AddressObject[] | undefined): string {
  if (!a) return '';
  const first = Array.isArray(a) ? a[0] : a;
  return first?.value[0]?.address ?? first?.text ?? '';
}

/**
 * Starts the catcher: an SMTP server (`smtp-server`, no TLS, no AUTH: loopback only) and its HTTP
 * view — `GET /messages[?to=]`, `GET /messages/{id}`, `GET /messages/{id}.eml`, `DELETE /messages`,
 * `GET /health`. A port in use is an error naming MAIL_CATCHER_SMTP_PORT / MAIL_CATCHER_HTTP_PORT.
 */
export async function startMailCatcher(o: MailCatcherOptions = {}): Promise<MailCatcher> {
  const env = o.env ?? process.env;
  const host = o.host ?? '127.0.0.1';
  const maxBytes = o.maxMessageBytes ?? envInt('MAIL_CATCHER_MAX_BYTES', 1024 * 1024, { min: 1024 }, env);
  const maxMessages = o.maxMessages ?? envInt('MAIL_CATCHER_MAX_MESSAGES', 1000, { min: 1 }, env);
  const dir = o.dir === undefined ? undefined : resolve(o.dir);
  if (dir) mkdirSync(dir, { recursive: true });
  const log = o.logger;

  const kept: { message: CaughtMessage; raw: Buffer }[] = [];
  const waiters = new Set<() => void>();
  const rejected = new Set<string>();
  let mode: SmtpFailureMode = 'none';
  let answerDelayMs = 0;
  const lateAnswers = new Set<NodeJS.Timeout>();
  const answer = (callback: () => void): void => {
    if (answerDelayMs === 0) return callback();
    const t = setTimeout(() => {
      lateAnswers.delete(t);
      callback();
    }, answerDelayMs);
    lateAnswers.add(t);
  };

  const fileOf = (id: string) => join(dir!, `${id}.eml`);
  const drop = (id: string) => {
    if (dir) rmSync(fileOf(id), { force: true });
  };

  const keep = async (raw: Buffer, session: SMTPServerSession) => {
    const parsed = await simpleParser(raw, { skipImageLinks: true, skipTextToHtml: true });
    const headers: Record<string, string> = {};
    for (const line of parsed.headerLines) {
      const key = line.key.toLowerCase();
      if (HEADERS_KEPT.has(key) || key.startsWith('x-albergue-')) headers[key] = line.line.slice(line.line.indexOf(':') + 1).trim();
    }
    const envelope = session.envelope;
    const from = envelope.mailFrom ? envelope.mailFrom.address : addressText(parsed.from);
    const message: CaughtMessage = {
      id: randomUUID(),
      from,
      to: envelope.rcptTo.map((r: SMTPServerAddress) => r.address.toLowerCase()),
      subject: parsed.subject ?? '',
      text: parsed.text ?? '',
      ...(typeof parsed.html === 'string' ? { html: parsed.html } : {}),
      headers,
      size: raw.length,
      received_at: new Date().toISOString(),
    };
    if (dir) writeFileSync(fileOf(message.id), raw);
    kept.push({ message, raw });
    while (kept.length > maxMessages) drop(kept.shift()!.message.id);
    log?.info({ message_id: headers['message-id'], to: message.to.length, size: raw.length }, 'mail caught');
    for (const w of [...waiters]) w();
  };

  const smtp = new SMTPServer({
    name: 'albergue-mail-catcher',
    banner: 'Albergue mail catcher (keeps mail, delivers nothing)',
    disabledCommands: ['STARTTLS', 'AUTH'],
    authOptional: true,
    size: maxBytes,
    maxClients: 100,
    logger: false,
    socketTimeout: 30_000,
    closeTimeout: 1_000,
    onMailFrom(_address, _session, callback) {
      if (mode === 'tempfail') return callback(smtpError('mail catcher: temporarily unavailable, try again later', 451));
      callback();
    },
    onRcptTo(address, _session, callback) {
      if (mode === 'tempfail') return callback(smtpError('mail catcher: temporarily unavailable, try again later', 451));
      if (mode === 'reject' || rejected.has(address.address.toLowerCase()))
        return callback(smtpError(`mail catcher: mailbox ${address.address} unavailable`, 550));
      callback();
    },
    onData(stream: SMTPServerDataStream, session, callback) {
      const chunks: Buffer[] = [];
      let bytes = 0;
      stream.on('data', (c: Buffer) => {
        bytes += c.length;
        if (bytes <= maxBytes) chunks.push(c);
      });
      stream.on('error', (err: Error) => callback(err));
      stream.on('end', () => {
        // smtp-server answers 552 itself for an oversized message.
        if (stream.sizeExceeded) return callback(smtpError('message exceeds the size limit', 552));
        keep(Buffer.concat(chunks), session).then(
          () => answer(() => callback()),
          (err: unknown) => {
            log?.warn({ err }, 'mail catcher: could not keep a message');
            callback(smtpError('mail catcher: could not store the message', 451));
          },
        );
      });
    },
  });
  smtp.on('error', (err: Error) => log?.warn({ err }, 'mail catcher: SMTP error'));

  const smtpPortWanted = o.smtpPort ?? envPort('MAIL_CATCHER_SMTP_PORT', 1025, env);
  const smtpPort = await listenOrExplain(smtp.server, smtpPortWanted, host, 'MAIL_CATCHER_SMTP_PORT');

  const messages = (filter: { readonly to?: string } = {}): CaughtMessage[] => {
    const to = filter.to?.toLowerCase();
    return kept.map((k) => k.message).filter((m) => to === undefined || m.to.includes(to));
  };

  const http: Server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (err) {
      log?.error({ err }, 'mail catcher: HTTP handler failed');
      if (!res.headersSent) sendProblem(res, 500, 'internal_error', 'the mail catcher failed to answer');
      else res.destroy();
    }
  });
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://catcher');
    } catch {
      return sendProblem(res, 400, 'invalid_request', 'the request target is not a valid URL');
    }
    const path = url.pathname;
    if (path === '/health') return sendJson(res, 200, { status: 'ok', messages: kept.length, smtp: mode === 'none' ? 'accepting' : mode });
    if (path === '/messages') {
      if (req.method === 'DELETE') {
        catcher.clear();
        res.writeHead(204).end();
        return;
      }
      if (req.method !== 'GET') return sendProblem(res, 405, 'method_not_allowed', `${req.method} is not allowed on /messages`);
      const unknown = [...url.searchParams.keys()].filter((k) => k !== 'to');
      if (unknown.length > 0)
        return sendProblem(res, 400, 'invalid_request', `unknown query parameter ${unknown[0]}`, [
          { path: `/query/${unknown[0]}`, message: 'unknown parameter (only to is accepted)', code: 'additionalProperties' },
        ]);
      const to = url.searchParams.getAll('to');
      if (to.length > 1 || (to[0] !== undefined && (to[0].length === 0 || to[0].length > 320)))
        return sendProblem(res, 400, 'invalid_request', 'to must be one address of 1 to 320 characters', [
          { path: '/query/to', message: 'one address of 1 to 320 characters', code: 'format' },
        ]);
      return sendJson(res, 200, { messages: messages(to[0] === undefined ? {} : { to: to[0] }) });
    }
    const m = /^\/messages\/([0-9a-f-]{36})(\.eml)?$/.exec(path);
    if (m) {
      if (req.method !== 'GET') return sendProblem(res, 405, 'method_not_allowed', `${req.method} is not allowed on ${path}`);
      const entry = kept.find((k) => k.message.id === m[1]);
      if (!entry)
        return sendProblem(res, 404, 'message_not_found', `no message ${m[1]} (never received, cleared, or dropped as the oldest)`, [
          { path: '/params/id', message: 'no such message', code: 'message_not_found' },
        ]);
      if (m[2]) {
        res.writeHead(200, { 'content-type': 'message/rfc822', 'content-length': entry.raw.length });
        res.end(entry.raw);
        return;
      }
      return sendJson(res, 200, entry.message);
    }
    return sendProblem(res, 404, 'not_found', `no route ${req.method ?? 'GET'} ${path}`);
  };
  let httpPort: number;
  try {
    httpPort = await listenOrExplain(http, o.httpPort ?? envPort('MAIL_CATCHER_HTTP_PORT', 8025, env), host, 'MAIL_CATCHER_HTTP_PORT');
  } catch (err) {
    await new Promise<void>((r) => smtp.close(() => r()));
    throw err;
  }

  const stopListening = () =>
    new Promise<void>((r) => {
      if (!smtp.server.listening) return r();
      smtp.server.close(() => r());
      // Open sessions end too, as they would when the server goes down.
      for (const c of (smtp as unknown as { connections: Set<{ close(): void }> }).connections) c.close();
    });
  let closed = false;

  const catcher: MailCatcher = {
    smtpUrl: `smtp://${host}:${smtpPort}`,
    httpUrl: `http://${host}:${httpPort}`,
    smtpPort,
    httpPort,
    messages,
    raw: (id) => kept.find((k) => k.message.id === id)?.raw,
    async waitFor(predicate, options = {}) {
      const count = options.count ?? 1;
      const timeoutMs = options.timeoutMs ?? 10_000;
      const found = () => messages().filter(predicate);
      if (found().length >= count) return found();
      return new Promise<CaughtMessage[]>((resolvePromise, reject) => {
        const check = () => {
          const f = found();
          if (f.length < count) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolvePromise(f);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`mail catcher: no ${count} matching message(s) within ${timeoutMs} ms (${found().length} so far)`));
        }, timeoutMs);
        waiters.add(check);
      });
    },
    clear() {
      for (const k of kept.splice(0, kept.length)) drop(k.message.id);
    },
    get failureMode() {
      return mode;
    },
    async stopAccepting(next = 'refuse') {
      mode = next;
      if (next === 'refuse') await stopListening();
      log?.info({ mode: next }, 'mail catcher: simulating an SMTP failure');
    },
    async resume() {
      if (closed) throw new Error('mail catcher closed');
      if (!smtp.server.listening) await listenOrExplain(smtp.server, smtpPort, host, 'MAIL_CATCHER_SMTP_PORT');
      mode = 'none';
      log?.info('mail catcher: accepting mail again');
    },
    answerLate(ms) {
      if (!Number.isInteger(ms) || ms < 0) throw new RangeError(`answerLate: ms must be an integer ≥ 0, got ${ms}`);
      answerDelayMs = ms;
    },
    rejectRecipient(address) {
      rejected.add(address.toLowerCase());
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const t of lateAnswers) clearTimeout(t);
      lateAnswers.clear();
      await stopListening();
      const httpClosed = new Promise<void>((r) => http.close(() => r()));
      http.closeAllConnections();
      await httpClosed;
    },
  };
  return catcher;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendProblem(
  res: ServerResponse,
  status: number,
  code: string,
  detail: string,
  errors?: { path: string; message: string; code: string }[],
): void {
  const text = JSON.stringify(problem(status, code, detail, errors));
  res.writeHead(status, { 'content-type': PROBLEM_CONTENT_TYPE, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
