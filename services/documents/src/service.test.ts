// The documents service as it runs: real Postgres, an MQTT broker (Aedes in process), two instances on
// one database, the HTTP edge with hostile inputs, Idempotency-Key, a crash between submit and validate
// (a child process SIGKILLed), and a search of everything the run produced — events on MQTT, outbox
// rows, every log line, every HTTP answer, every database row — for the full document numbers.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { startAedes } from '@albergue/messaging/testing';
import type { TestAedes } from '@albergue/messaging/testing';
import { PgDatabase } from '@albergue/outbox';
import { PG_ADMIN_URL } from '@albergue/outbox/test-databases';
import { expectProblem, freePort, uniqueName, waitFor } from '@albergue/platform/testing';
import type { DocumentsService } from './service.js';
import { createDocumentsService, DOCUMENT_LOG_REDACTIONS } from './service.js';

const root = new URL('../../..', import.meta.url).pathname;
const dbName = uniqueName('documents_svc').toLowerCase();
const dbUrl = (() => {
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${dbName}`;
  return u.toString();
})();

/** Valid DNI 20000000+i with its letter. */
const dni = (i: number) => {
  const digits = String(20_000_000 + i);
  return digits + 'TRWAGMYFPDXBNJZSQVHLCKE'.charAt(Number(digits) % 23);
};
const PASSPORT_MRZ = 'P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10';

/** Every full number (and MRZ data) this file sends: none may appear anywhere but sealed. */
const secrets = new Set<string>(['L898902C3', 'ZE184226B', '87654321X', '99999999R']);
/** Everything the run produced that leaves the service: HTTP bodies and headers, MQTT payloads, log lines. */
const produced: string[] = [];
const logLines: string[] = [];

function capturingLogger(instance: string): Logger {
  return pino({ level: 'debug', base: { service: 'documents', instance } }, { write: (line: string) => void logLines.push(line) });
}

async function admin(sql: string): Promise<void> {
  const db = new PgDatabase(PG_ADMIN_URL, { max: 1 });
  try {
    await db.exec(sql);
  } finally {
    await db.close();
  }
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: Record<string, unknown>;
}

async function call(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const raw = typeof body === 'string' || body === undefined ? body : JSON.stringify(body);
  const res = await fetch(url, {
    method,
    headers: { ...(raw === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(raw === undefined ? {} : { body: raw }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  produced.push(text, JSON.stringify([...res.headers.entries()]));
  const json = (text.startsWith('{') ? JSON.parse(text) : {}) as Record<string, unknown>;
  return { status: res.status, headers: res.headers, text, json };
}

function submission(i: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  const number = typeof over.number === 'string' ? over.number : dni(i);
  secrets.add(number.toUpperCase().replace(/[\s.-]/g, ''));
  return {
    guest_id: `guest-${i}`,
    document_type: 'dni',
    number,
    issuing_country: 'ESP',
    expires_on: '2035-05-20',
    birth_date: '1980-01-01',
    ...over,
  };
}

const toProblem = (a: Answer) => ({ statusCode: a.status, headers: Object.fromEntries(a.headers.entries()), body: a.text });

describe('documents service', () => {
  let broker: TestAedes;
  let observer: mqtt.MqttClient;
  const messages: { topic: string; payload: string }[] = [];
  const instances: DocumentsService[] = [];
  const urls: string[] = [];

  async function startInstance(instance: string, env: Record<string, string> = {}): Promise<string> {
    const rt = await createDocumentsService({
      env: { INSTANCE_ID: instance, DOCUMENTS_VALIDATION_SWEEP_MS: '50', ...env },
      logger: capturingLogger(instance),
      config: { port: 0, host: '127.0.0.1', databaseUrl: dbUrl, mqttUrl: broker.url, redisUrl: undefined },
    });
    instances.push(rt);
    return rt.start();
  }

  before(async () => {
    broker = await startAedes();
    await admin(`CREATE DATABASE "${dbName}"`);
    observer = await mqtt.connectAsync(broker.url, { clientId: uniqueName('documents-observer'), clean: true });
    observer.on('message', (topic, payload) => {
      messages.push({ topic, payload: payload.toString() });
      produced.push(payload.toString());
    });
    await observer.subscribeAsync('albergue/documents/#', { qos: 1 });
    urls.push(await startInstance('a'), await startInstance('b'));
  });

  after(async () => {
    for (const rt of instances) await rt.close();
    await observer?.endAsync();
    await broker?.close();
    await admin(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
  });

  const decided = async (base: string, id: string) =>
    waitFor(
      async () => {
        const r = await call('GET', `${base}/documents/${id}`);
        return r.json.status !== 'pending' && r.status === 200 ? r : undefined;
      },
      { timeoutMs: 15_000, message: `document ${id} to be decided` },
    );

  test('submit → 202 pending with Location and the flow; GET → validated, and DocumentValidated on MQTT (masked)', async () => {
    const r = await call(
      'POST',
      `${urls[0]}/documents`,
      submission(1, {
        booking_id: 'bk-1',
        number: ` ${dni(1).slice(0, 2)}.${dni(1).slice(2, 5)}.${dni(1).slice(5, 8)}-${dni(1).charAt(8).toLowerCase()}`,
      }),
    );
    assert.equal(r.status, 202, r.text);
    assert.equal(r.json.status, 'pending');
    assert.equal(r.json.document_number_masked, `*****${dni(1).slice(5)}`);
    const id = String(r.json.document_id);
    assert.equal(r.headers.get('location'), `/documents/${id}`);
    const flow = r.headers.get('x-correlation-id');
    assert.ok(flow && r.headers.get('x-command-id'));
    const view = await decided(urls[1]!, id); // read through the other instance
    assert.equal(view.json.status, 'validated');
    assert.deepEqual(view.json.reasons, []);
    assert.equal(view.json.booking_id, 'bk-1');
    const list = await call('GET', `${urls[0]}/bookings/bk-1/documents`);
    assert.equal(list.status, 200);
    assert.deepEqual(list.json, { documents: [view.json] });
    const event = await waitFor(() => messages.find((m) => m.payload.includes(id)), { message: 'DocumentValidated on MQTT' });
    assert.equal(event.topic, 'albergue/documents/v1/DocumentValidated');
    const envelope = JSON.parse(event.payload) as {
      event_id: string;
      correlation_id: string;
      causation_id: string;
      payload: Record<string, unknown>;
    };
    assert.equal(envelope.correlation_id, flow);
    assert.equal(envelope.event_id, flow);
    assert.equal(envelope.causation_id, r.headers.get('x-command-id'));
    assert.equal(envelope.payload.document_number_masked, `*****${dni(1).slice(5)}`);
  });

  test('an invalid document is accepted (202) and rejected with every reason, on MQTT too', async () => {
    const r = await call(
      'POST',
      `${urls[1]}/documents`,
      submission(2, {
        document_type: 'passport',
        number: 'L898902C3',
        issuing_country: 'ESP',
        birth_date: '2015-03-01',
        expires_on: '2012-04-15',
        mrz: PASSPORT_MRZ,
      }),
    );
    assert.equal(r.status, 202, r.text);
    const view = await decided(urls[0]!, String(r.json.document_id));
    assert.equal(view.json.status, 'rejected');
    assert.deepEqual(view.json.reasons, [
      'passport_format_invalid',
      'minor_without_guardian',
      'expiry_before_birth',
      'document_expired',
      'mrz_mismatch_birth_date',
      'mrz_mismatch_country',
    ]);
    const event = await waitFor(() => messages.find((m) => m.payload.includes(String(r.json.document_id))), {
      message: 'DocumentRejected',
    });
    assert.equal(event.topic, 'albergue/documents/v1/DocumentRejected');
    assert.deepEqual((JSON.parse(event.payload) as { payload: { reasons: unknown } }).payload.reasons, view.json.reasons);
  });

  test('GET: unknown id → 404 document_not_found; NUL or an absurd length in the id → a problem, not a lookup', async () => {
    expectProblem(toProblem(await call('GET', `${urls[0]}/documents/no-such-document`)), 404, 'document_not_found');
    expectProblem(toProblem(await call('GET', `${urls[0]}/documents/doc%00x`)), 400, 'invalid_request');
    expectProblem(toProblem(await call('GET', `${urls[0]}/documents/doc%ED%A0%80`)), 400, 'invalid_request');
    // Fastify refuses path parameters over 100 characters before routing (414)
    expectProblem(toProblem(await call('GET', `${urls[0]}/documents/${'x'.repeat(129)}`)), 414, 'invalid_request');
  });

  test('hostile inputs → 400/413/415 problems at the edge naming the field, never quoting the number', async () => {
    const secret = '87654321X';
    const base = submission(3, { number: secret });
    const cases: [string, unknown, number, string, string?][] = [
      ['number missing', { ...base, number: undefined }, 400, 'invalid_request', '/body/number'],
      ['number as a JSON number', { ...base, number: 87654321 }, 400, 'invalid_request', '/body/number'],
      ['number longer than 32', { ...base, number: `${secret}${'9'.repeat(30)}` }, 400, 'invalid_request', '/body/number'],
      ['NUL in the number', { ...base, number: `8765\u00004321X` }, 400, 'invalid_request', '/body/number'],
      ['lone surrogate in the number', { ...base, number: `87654321\uD800` }, 400, 'invalid_request', '/body/number'],
      ['MRZ longer than 128', { ...base, mrz: `${PASSPORT_MRZ}\n${PASSPORT_MRZ}` }, 400, 'invalid_request', '/body/mrz'],
      ['unknown document type', { ...base, document_type: 'driving_licence' }, 400, 'invalid_request', '/body/document_type'],
      ['country in lower case', { ...base, issuing_country: 'esp' }, 400, 'invalid_request', '/body/issuing_country'],
      ['30 February', { ...base, birth_date: '1980-02-30' }, 400, 'invalid_request', '/body/birth_date'],
      ['unknown field', { ...base, dni_number: secret }, 400, 'invalid_request', '/body/dni_number'],
      ['guest_id empty', { ...base, guest_id: '' }, 400, 'invalid_request', '/body/guest_id'],
      ['an array', [base], 400, 'invalid_request', '/body'],
      ['invalid JSON quoting the number', `{"number": "${secret}", "guest_id": ${secret}}`, 400, 'invalid_json', '/body'],
      ['invalid JSON: a bare number token', `{"number": ${secret}}`, 400, 'invalid_json', '/body'],
      ['empty body', '', 400, 'empty_body'],
      ['64 KiB and more', { ...base, guardian_reference: 'x'.repeat(70_000) }, 413, 'body_too_large'],
    ];
    for (const [what, body, status, code, path] of cases) {
      const a = await call('POST', `${urls[0]}/documents`, body);
      const p = expectProblem(toProblem(a), status, code);
      if (path)
        assert.ok(
          p.errors?.some((e) => e.path === path),
          `${what}: ${a.text}`,
        );
      assert.ok(!a.text.includes(secret) && !a.text.includes('87654321'), `${what} quotes the number: ${a.text}`);
    }
    const plain = await fetch(`${urls[0]}/documents`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: secret });
    const plainText = await plain.text();
    produced.push(plainText);
    expectProblem(
      { statusCode: plain.status, headers: Object.fromEntries(plain.headers.entries()), body: plainText },
      415,
      'unsupported_media_type',
    );
  });

  test('Idempotency-Key: the same submission again → the stored answer, one document; another body → 422; no number in the key store', async () => {
    const key = uniqueName('submit');
    const body = submission(4);
    const first = await call('POST', `${urls[0]}/documents`, body, { 'idempotency-key': key });
    const again = await call('POST', `${urls[1]}/documents`, body, { 'idempotency-key': key });
    assert.equal(first.status, 202);
    assert.equal(again.status, 202);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(again.json.document_id, first.json.document_id);
    const other = await call('POST', `${urls[0]}/documents`, submission(5), { 'idempotency-key': key });
    expectProblem(toProblem(other), 422, 'idempotency_key_reused');
    const db = new PgDatabase(dbUrl, { max: 1 });
    try {
      const { rows } = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM documents WHERE state->'facts'->>'guest_id' = 'guest-4'`,
      );
      assert.equal(rows[0]?.n, 1);
    } finally {
      await db.close();
    }
  });

  /** documents_decided_total summed over the two instances. */
  const decidedCount = async () => {
    let total = 0;
    for (const rt of instances.slice(0, 2)) {
      const metric = rt.metrics.getSingleMetric('documents_decided_total');
      for (const v of (await metric?.get())?.values ?? []) total += v.value;
    }
    return total;
  };

  test('two instances on one Postgres: 40 documents submitted to both → each decided once, exactly one event each on MQTT', async () => {
    const decidedBefore = await decidedCount();
    const ids = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const r = await call(
          'POST',
          `${urls[i % 2]}/documents`,
          submission(100 + i, i % 3 === 0 ? { number: `${dni(100 + i).slice(0, 8)}A` } : {}),
        );
        assert.equal(r.status, 202, r.text);
        return String(r.json.document_id);
      }),
    );
    for (const id of ids) await decided(urls[0]!, id);
    await waitFor(() => ids.every((id) => messages.some((m) => m.payload.includes(id))), {
      timeoutMs: 15_000,
      message: 'an event per document on MQTT',
    });
    const counts = ids.map((id) => messages.filter((m) => (JSON.parse(m.payload) as { aggregate_id: string }).aggregate_id === id).length);
    assert.deepEqual(
      counts,
      ids.map(() => 1),
    );
    const db = new PgDatabase(dbUrl, { max: 1 });
    try {
      const { rows } = await db.query<{ aggregate_id: string; n: number }>(
        `SELECT envelope->>'aggregate_id' AS aggregate_id, count(*)::int AS n FROM outbox_events GROUP BY 1 HAVING count(*) > 1`,
      );
      assert.deepEqual(rows, []);
    } finally {
      await db.close();
    }
    const decidedAfter = await decidedCount();
    assert.equal(decidedAfter - decidedBefore, 40, 'documents_decided_total of both instances together');
  });

  test('a crash between submit and validate: the instance that took it is SIGKILLed before validating; another validates it once', async () => {
    const port = await freePort();
    let output = '';
    const child: ChildProcess = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', 'services/documents/src/main.ts'], {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        DATABASE_URL: dbUrl,
        MQTT_URL: broker.url,
        DOCUMENTS_PORT: String(port),
        INSTANCE_ID: 'crashing',
        DOCUMENTS_VALIDATOR: 'off', // it accepts and answers, and never validates: the crash window, held open
        LOG_LEVEL: 'debug',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    try {
      const childUrl = `http://127.0.0.1:${port}`;
      await waitFor(
        async () => {
          if (child.exitCode !== null) throw new Error(`documents exited: ${output}`);
          return (await fetch(`${childUrl}/health`).catch(() => undefined))?.status === 200;
        },
        { timeoutMs: 60_000, intervalMs: 100, message: 'the child documents instance to be ready' },
      );
      // Stop the two validating instances first, so nothing but a new instance can validate it.
      for (const rt of instances.splice(0, 2)) await rt.close();
      const r = await call('POST', `${childUrl}/documents`, submission(200));
      assert.equal(r.status, 202, r.text);
      const id = String(r.json.document_id);
      child.kill('SIGKILL');
      await once(child, 'exit');
      const db = new PgDatabase(dbUrl, { max: 1 });
      try {
        const pending = await db.query<{ status: string }>('SELECT status FROM documents WHERE document_id = $1', [id]);
        assert.equal(pending.rows[0]?.status, 'pending', 'committed before the crash, not validated');
        urls.splice(0, urls.length, await startInstance('after-crash'));
        const view = await decided(urls[0]!, id);
        assert.equal(view.json.status, 'validated');
        await waitFor(() => messages.some((m) => m.payload.includes(id)), { message: 'the event of the recovered document' });
        const { rows } = await db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM outbox_events WHERE envelope->>'aggregate_id' = $1`,
          [id],
        );
        assert.equal(rows[0]?.n, 1);
      } finally {
        await db.close();
      }
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
      logLines.push(output);
    }
  });

  test('no full document number in any event, outbox row, log line, HTTP answer or database row of this run', async () => {
    assert.ok(logLines.length > 50, `logs were captured (${logLines.length} lines)`);
    assert.ok(logLines.some((l) => l.includes('document validated')) && logLines.some((l) => l.includes('document rejected')));
    assert.ok(messages.length >= 43);
    const db = new PgDatabase(dbUrl, { max: 1 });
    let dump = '';
    try {
      const { rows } = await db.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`,
      );
      for (const { table_name } of rows) {
        const all = await db.query<{ t: string }>(`SELECT row_to_json(x)::text AS t FROM "${table_name}" x`);
        dump += all.rows.map((r) => r.t).join('\n');
      }
    } finally {
      await db.close();
    }
    assert.ok(dump.includes('idempotency_key') || dump.length > 0);
    const haystacks: [string, string][] = [
      ['MQTT events and HTTP answers', produced.join('\n')],
      ['log lines', logLines.join('\n')],
      ['database rows (outbox, idempotency keys, documents, views)', dump],
    ];
    for (const secret of secrets) {
      for (const [where, text] of haystacks) assert.ok(!text.includes(secret), `${secret} found in ${where}`);
    }
    assert.ok(secrets.size > 40);
  });

  test("the service's logger censors number and mrz fields (defence in depth; nothing above logs them)", () => {
    const lines: string[] = [];
    const log = pino({ redact: { paths: DOCUMENT_LOG_REDACTIONS, censor: '[redacted]' } }, { write: (l: string) => void lines.push(l) });
    log.info({ number: '12345678Z', body: { number: '12345678Z', mrz: PASSPORT_MRZ }, req: { body: { number: '12345678Z' } } }, 'hostile');
    assert.equal(lines.length, 1);
    assert.ok(!lines[0]!.includes('12345678Z') && !lines[0]!.includes('L898902C3'), lines[0]);
    assert.equal((lines[0]!.match(/\[redacted\]/g) ?? []).length, 4);
  });
});
