// The README's quick start, as a pilgrim would do it: `npm start`, reserve a bed over HTTP, pay with
// a test card (the provider settles through its callback), see the booking confirmed; then Ctrl-C
// stops everything and no process is left behind.
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort, waitFor } from '@albergue/platform/testing';
import { http, reserveAndPay, waitForBookingStatus, waitUntilBookable } from './guest.js';

const root = new URL('../..', import.meta.url).pathname;

function processesInGroup(pgid: number): number[] {
  const ps = spawnSync('ps', ['-o', 'pid=', '-g', String(pgid)], { encoding: 'utf8' });
  return ps.stdout
    .split('\n')
    .map((s) => Number(s.trim()))
    .filter((n) => n > 0);
}

test('npm start: reserve, pay with a test card, booking confirmed; Ctrl-C leaves no process', { timeout: 180_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'albergue-quickstart-'));
  const ports = {
    LOCATION_PORT: await freePort(),
    BOOKING_PORT: await freePort(),
    PAYMENT_PORT: await freePort(),
    DOCUMENTS_PORT: await freePort(),
    NOTIFICATIONS_PORT: await freePort(),
    MAIL_CATCHER_SMTP_PORT: await freePort(),
    MAIL_CATCHER_HTTP_PORT: await freePort(),
    OPERATIONS_PORT: await freePort(),
    AUDIT_PORT: await freePort(),
    BROKER_HTTP_PORT: await freePort(),
    BROKER_MQTT_PORT: await freePort(),
    BROKER_WS_PORT: await freePort(),
    GATEWAY_PORT: await freePort(),
  };
  const env: Record<string, string | undefined> = {
    ...process.env,
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    PAYMENT_SIM_LATENCY_MS: '50',
    ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
  };
  delete env.NODE_TEST_CONTEXT;
  for (const k of ['MQTT_URL', 'REDIS_URL', 'DATABASE_URL']) delete env[k];
  const child = spawn('npm', ['start'], { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    out += d.toString();
  });
  let exitCode: number | null | undefined;
  // npm itself dies of the SIGINT (as in a terminal); what counts is that the system below it stops cleanly.
  child.stdout.once('close', () => {
    exitCode = child.exitCode;
  });
  const pgid = child.pid!;
  try {
    await waitFor(() => out.includes('Albergue is running'), {
      timeoutMs: 120_000,
      message: `npm start to report it is running; output so far:\n${out}`,
    });
    assert.match(out, new RegExp(`location\\s+http://127.0.0.1:${ports.LOCATION_PORT}`));
    assert.match(out, /data: .*albergue-quickstart-/);

    const urls = {
      location: `http://127.0.0.1:${ports.LOCATION_PORT}`,
      booking: `http://127.0.0.1:${ports.BOOKING_PORT}`,
      payment: `http://127.0.0.1:${ports.PAYMENT_PORT}`,
    };
    for (const url of Object.values(urls)) assert.equal((await http('GET', `${url}/health`)).status, 200);
    const albergues = await http<{ albergues: { albergue_id: string }[] }>('GET', `${urls.location}/albergues`);
    assert.equal(albergues.status, 200);
    const albergueId = albergues.body.albergues[0]!.albergue_id;
    await waitUntilBookable(urls, albergueId);

    const { bookingId, paymentId } = await reserveAndPay(urls, albergueId, 1, '4242 4242 4242 4242');
    const confirmed = await waitForBookingStatus(urls, bookingId, 'confirmed');
    assert.equal(confirmed.payment_id, paymentId);

    // The guest's document (README: documents), validated asynchronously.
    const documents = `http://127.0.0.1:${ports.DOCUMENTS_PORT}`;
    const submitted = await http<{ document_id: string; status: string }>('POST', `${documents}/documents`, {
      guest_id: 'guest-1',
      booking_id: bookingId,
      document_type: 'dni',
      number: '12345678Z',
      issuing_country: 'ESP',
      expires_on: '2031-05-20',
      birth_date: '1980-01-01',
    });
    assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
    await waitFor(
      async () =>
        (await http<{ status: string }>('GET', `${documents}/documents/${submitted.body.document_id}`)).body.status === 'validated',
      { timeoutMs: 20_000, message: 'the document to be validated' },
    );
  } finally {
    process.kill(-pgid, 'SIGINT');
    const stopped = await waitFor(() => exitCode !== undefined, { timeoutMs: 30_000 }).then(
      () => true,
      () => false,
    );
    const left = stopped
      ? await waitFor(() => processesInGroup(pgid).length === 0, { timeoutMs: 5_000 }).then(
          () => [],
          () => processesInGroup(pgid),
        )
      : processesInGroup(pgid);
    if (!stopped || left.length > 0) process.kill(-pgid, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
    assert.ok(stopped, `npm start did not stop on SIGINT:\n${out}`);
    assert.match(out, /Albergue stopped\./, `the system did not report a clean stop:\n${out}`);
    assert.deepEqual(left, [], 'processes left behind after Ctrl-C');
  }
});
