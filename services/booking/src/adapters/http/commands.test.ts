// HTTP commands of the real booking service on real Postgres and on PGlite: Idempotency-Key (same
// key → one booking and the same response; another body → 422; concurrent → one booking; the key,
// the booking and the response commit in one transaction), command ids and correlation headers.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { EventEnvelope } from '@albergue/events';
import { AlbergueRegistered, newEnvelope, newEventId } from '@albergue/events';
import { PgDatabase, quoteIdent } from '@albergue/outbox';
import { expectProblem, uniqueName } from '@albergue/platform/testing';
import type { ServiceRuntime } from '@albergue/runtime';
import { IdempotencyStore } from '@albergue/runtime';
import { updateInventoryOnAlbergueRegistered } from '../../application/update-inventory.js';
import { createBookingService } from '../../service.js';
import { PgBookingRepository } from '../postgres/pg-booking-repository.js';

const PG_ADMIN_URL = process.env.PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface Harness {
  readonly rt: ServiceRuntime;
  close(): Promise<void>;
}

async function admin(sql: string): Promise<void> {
  const db = new PgDatabase(PG_ADMIN_URL, { max: 1 });
  try {
    await db.exec(sql);
  } finally {
    await db.close();
  }
}

async function openService(kind: 'postgres' | 'pglite'): Promise<Harness> {
  const silent = { env: {}, logger: undefined };
  if (kind === 'postgres') {
    const name = uniqueName('booking_http').toLowerCase();
    await admin(`CREATE DATABASE ${quoteIdent(name)}`);
    const url = new URL(PG_ADMIN_URL);
    url.pathname = `/${name}`;
    const rt = await createBookingService({ env: silent.env, config: { databaseUrl: url.toString() } });
    return {
      rt,
      close: async () => {
        await rt.http.close();
        await rt.close();
        await admin(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
      },
    };
  }
  const dir = await mkdtemp(join(tmpdir(), 'booking-http-'));
  const rt = await createBookingService({ env: silent.env, config: { dataDir: join(dir, 'data') } });
  return {
    rt,
    close: async () => {
      await rt.http.close();
      await rt.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const day = (n: number) => new Date(Date.now() + n * 86_400_000).toISOString().slice(0, 10);

for (const kind of ['postgres', 'pglite'] as const) {
  describe(`booking HTTP commands on ${kind}`, () => {
    let h: Harness;
    const albergue = 'alb-idem';
    const guest = { guest_id: 'g-1', name: 'Ana', email: 'ana@example.org', locale: 'es' };
    const reservation = (n: number, beds = 1) => ({ albergue_id: albergue, guest, check_in: day(20 + n), check_out: day(21 + n), beds });
    const post = (body: unknown, headers: Record<string, string> = {}) =>
      h.rt.http.inject({
        method: 'POST',
        url: '/bookings',
        headers: { 'content-type': 'application/json', ...headers },
        payload: JSON.stringify(body),
      });
    const count = async (sql: string, params: unknown[] = []) => Number((await h.rt.db.query<{ n: string }>(sql, params)).rows[0]!.n);
    const outbox = async () =>
      (await h.rt.db.query<{ envelope: EventEnvelope }>('SELECT envelope FROM outbox_events ORDER BY id')).rows.map((r) => r.envelope);

    before(async () => {
      h = await openService(kind);
      await h.rt.http.ready();
      const repo = new PgBookingRepository(h.rt.db);
      await repo.transaction((tx) =>
        updateInventoryOnAlbergueRegistered(
          tx,
          newEnvelope(AlbergueRegistered, {
            albergue_id: albergue,
            name: 'Casa',
            town: 'Burgos',
            route: 'Camino Francés',
            location: { lat: 42.3, lon: -3.7 },
            beds: 3,
            nightly_price: { amount_minor: 1000, currency: 'EUR' },
          }),
        ),
      );
    });
    after(async () => {
      await h?.close();
    });

    test('the same Idempotency-Key twice → one booking, the same response (status, body, command headers)', async () => {
      const key = newEventId();
      const first = await post(reservation(0), { 'idempotency-key': key });
      assert.equal(first.statusCode, 201, first.body);
      const second = await post(reservation(0), { 'idempotency-key': key });
      assert.equal(second.statusCode, 201, second.body);
      assert.equal(second.body, first.body);
      for (const header of ['x-command-id', 'x-correlation-id', 'location', 'content-type'])
        assert.equal(second.headers[header], first.headers[header], header);
      assert.equal(second.headers['idempotent-replayed'], 'true');
      assert.equal(first.headers['idempotent-replayed'], undefined);
      const id = first.json<{ booking_id: string }>().booking_id;
      assert.equal(await count('SELECT count(*) AS n FROM bookings WHERE check_in = $1::date', [day(20)]), 1);
      assert.equal((await outbox()).filter((e) => (e.payload as { booking_id: string }).booking_id === id).length, 1);
      // Field order does not make another request.
      const reordered = {
        beds: 1,
        check_out: day(21),
        check_in: day(20),
        guest: { locale: 'es', email: guest.email, name: guest.name, guest_id: guest.guest_id },
        albergue_id: albergue,
      };
      assert.equal((await post(reordered, { 'idempotency-key': key })).body, first.body);
    });

    test('the key, the booking, its event and the stored response commit in ONE transaction', async () => {
      const key = newEventId();
      // Storing the response fails (after the booking and its event were written): nothing stays.
      await h.rt.db
        .exec(`CREATE OR REPLACE FUNCTION refuse_response() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'no'; END $$ LANGUAGE plpgsql;
        CREATE TRIGGER refuse_response BEFORE UPDATE ON idempotency_keys FOR EACH ROW EXECUTE FUNCTION refuse_response();`);
      const eventsBefore = (await outbox()).length;
      try {
        expectProblem(await post(reservation(1), { 'idempotency-key': key }), 500, 'internal_error');
      } finally {
        await h.rt.db.exec('DROP TRIGGER refuse_response ON idempotency_keys');
      }
      assert.equal(await count('SELECT count(*) AS n FROM bookings WHERE check_in = $1::date', [day(21)]), 0);
      assert.equal((await outbox()).length, eventsBefore);
      assert.equal(await count('SELECT count(*) AS n FROM idempotency_keys WHERE idempotency_key = $1', [key]), 0);
      // And when it commits, the key holds the exact response that was sent.
      const r = await post(reservation(1), { 'idempotency-key': key });
      assert.equal(r.statusCode, 201, r.body);
      const row = (
        await h.rt.db.query<{ response_status: number; response_body: string; response_headers: Record<string, string> }>(
          `SELECT response_status, response_body, response_headers FROM idempotency_keys WHERE idempotency_key = $1 AND state = 'done'`,
          [key],
        )
      ).rows[0];
      assert.equal(row?.response_status, 201);
      assert.equal(row?.response_body, r.body);
      assert.equal(row?.response_headers['x-command-id'], r.headers['x-command-id']);
      assert.equal(await count('SELECT count(*) AS n FROM bookings WHERE check_in = $1::date', [day(21)]), 1);
    });

    test('the same key with another body (or URL) → 422 and nothing happens', async () => {
      const key = newEventId();
      assert.equal((await post(reservation(2), { 'idempotency-key': key })).statusCode, 201);
      const before = await count('SELECT count(*) AS n FROM bookings');
      const other = expectProblem(await post(reservation(2, 2), { 'idempotency-key': key }), 422, 'idempotency_key_reused');
      assert.deepEqual(
        other.errors?.map((e) => e.path),
        ['/headers/idempotency-key'],
      );
      const elsewhere = await h.rt.http.inject({
        method: 'POST',
        url: '/bookings/x/cancel',
        headers: { 'idempotency-key': key },
        payload: { guest_id: 'g-1' },
      });
      expectProblem(elsewhere, 422, 'idempotency_key_reused');
      assert.equal(await count('SELECT count(*) AS n FROM bookings'), before);
    });

    test('concurrent requests with one key → one booking; every answer is that booking', async () => {
      const key = newEventId();
      const answers = await Promise.all(Array.from({ length: 8 }, () => post(reservation(3), { 'idempotency-key': key })));
      const statuses = answers.map((a) => a.statusCode);
      assert.ok(
        statuses.every((s) => s === 201),
        statuses.join(','),
      );
      assert.equal(new Set(answers.map((a) => a.json<{ booking_id: string }>().booking_id)).size, 1);
      assert.equal(await count('SELECT count(*) AS n FROM bookings WHERE check_in = $1::date', [day(23)]), 1);
    });

    test('refusals are stored too (the retry gets the same 409); a bad key is a 400', async () => {
      const key = newEventId();
      const full = await post(reservation(4, 4), { 'idempotency-key': key });
      expectProblem(full, 409, 'no_beds_left');
      const again = await post(reservation(4, 4), { 'idempotency-key': key });
      assert.equal(again.body, full.body);
      assert.equal(again.headers['idempotent-replayed'], 'true');
      const longest = `${'k'.repeat(254)}~`;
      const atLimit = await post(reservation(12), { 'idempotency-key': longest });
      assert.equal(atLimit.statusCode, 201, atLimit.body);
      assert.equal((await post(reservation(12), { 'idempotency-key': longest })).headers['idempotent-replayed'], 'true');
      for (const bad of ['', 'x'.repeat(256), 'clé', 'two words']) {
        const r = await h.rt.http.inject({
          method: 'POST',
          url: '/bookings',
          headers: { 'content-type': 'application/json', 'idempotency-key': bad },
          payload: JSON.stringify(reservation(5)),
        });
        assert.deepEqual(
          expectProblem(r, 400, 'invalid_request').errors?.map((e) => e.path),
          ['/headers/idempotency-key'],
          JSON.stringify(bad),
        );
      }
    });

    test('a failed command leaves no key: the retry with the same key runs it', async () => {
      const key = newEventId();
      // The booking insert fails with a server error inside the command's transaction.
      await h.rt.db
        .exec(`CREATE OR REPLACE FUNCTION refuse_booking() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'boom'; END $$ LANGUAGE plpgsql;
        CREATE TRIGGER refuse_booking BEFORE INSERT ON bookings FOR EACH ROW EXECUTE FUNCTION refuse_booking();`);
      try {
        expectProblem(await post(reservation(6), { 'idempotency-key': key }), 500, 'internal_error');
      } finally {
        await h.rt.db.exec('DROP TRIGGER refuse_booking ON bookings');
      }
      assert.equal(await count('SELECT count(*) AS n FROM idempotency_keys WHERE idempotency_key = $1', [key]), 0);
      const retry = await post(reservation(6), { 'idempotency-key': key });
      assert.equal(retry.statusCode, 201, retry.body);
      assert.equal(retry.headers['idempotent-replayed'], undefined);
    });

    test('expired keys are not replayed and are purged', async () => {
      const key = newEventId();
      assert.equal((await post(reservation(7), { 'idempotency-key': key })).statusCode, 201);
      await h.rt.db.query(`UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE idempotency_key = $1`, [key]);
      const store = new IdempotencyStore(h.rt.db);
      assert.ok((await store.purgeExpired()) >= 1);
      assert.equal(await count('SELECT count(*) AS n FROM idempotency_keys WHERE idempotency_key = $1', [key]), 0);
      // After expiry the key is free again: another body is a new command, not a 422.
      assert.equal((await post(reservation(8), { 'idempotency-key': key })).statusCode, 201);
    });

    test('command ids: a UUIDv7 per request, the causation_id of the event; x-correlation-id joins the flow', async () => {
      const flow = newEventId().toUpperCase();
      const r = await post(reservation(9), { 'x-correlation-id': flow });
      assert.equal(r.statusCode, 201, r.body);
      const commandId = String(r.headers['x-command-id']);
      assert.match(commandId, UUID_V7);
      assert.equal(r.headers['x-correlation-id'], flow.toLowerCase());
      const id = r.json<{ booking_id: string }>().booking_id;
      const event = (await outbox()).find((e) => (e.payload as { booking_id: string }).booking_id === id)!;
      assert.equal(event.causation_id, commandId);
      assert.equal(event.correlation_id, flow.toLowerCase());

      const fresh = await post(reservation(10));
      const freshEvent = (await outbox()).find(
        (e) => (e.payload as { booking_id: string }).booking_id === fresh.json<{ booking_id: string }>().booking_id,
      )!;
      assert.equal(freshEvent.causation_id, fresh.headers['x-command-id']);
      assert.equal(freshEvent.correlation_id, freshEvent.event_id, 'a new flow starts with its first event');
      assert.equal(fresh.headers['x-correlation-id'], freshEvent.correlation_id);
      assert.notEqual(fresh.headers['x-command-id'], commandId);

      const get = await h.rt.http.inject({ method: 'GET', url: `/bookings/${id}` });
      assert.match(String(get.headers['x-command-id']), UUID_V7);
      assert.ok(get.headers['x-correlation-id']);
      for (const bad of ['req-1', 'not-a-uuid', `${newEventId()}x`]) {
        const refused = await post(reservation(11), { 'x-correlation-id': bad });
        assert.deepEqual(
          expectProblem(refused, 400, 'invalid_request').errors?.map((e) => e.path),
          ['/headers/x-correlation-id'],
        );
      }
      assert.equal(await count('SELECT count(*) AS n FROM bookings WHERE check_in = $1::date', [day(31)]), 0);
    });

    test('unknown route → 404, known route with another method → 405 with Allow; both problems', async () => {
      expectProblem(await h.rt.http.inject({ method: 'GET', url: '/nothing/here' }), 404, 'not_found');
      const r = await h.rt.http.inject({ method: 'DELETE', url: '/bookings/abc' });
      expectProblem(r, 405, 'method_not_allowed');
      assert.match(String(r.headers.allow), /GET/);
      expectProblem(await h.rt.http.inject({ method: 'GET', url: '/bookings/%E0%A4%A' }), 400);
    });
  });
}

describe('a crash after the commit, before the response is sent (real Postgres, a child process)', () => {
  const name = uniqueName('booking_crash').toLowerCase();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  const children: ChildProcess[] = [];

  async function child(crash: boolean): Promise<{ base: string; proc: ChildProcess }> {
    const proc = spawn(
      process.execPath,
      ['--conditions=development', '--import', 'tsx', new URL('../../testdata/crash-child.ts', import.meta.url).pathname],
      {
        env: { ...process.env, DATABASE_URL: url.toString(), CRASH_AFTER_COMMIT: crash ? '1' : '0', LOG_LEVEL: 'silent' },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    children.push(proc);
    let out = '';
    const base = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`child did not listen: ${out}`)), 30_000);
      proc.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening (\S+)/.exec(out);
        if (m) {
          clearTimeout(t);
          resolve(m[1]!);
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`child exited ${code}: ${out}`));
      });
    });
    return { base, proc };
  }

  before(async () => {
    await admin(`CREATE DATABASE ${quoteIdent(name)}`);
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await admin(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  });

  test('the retry with the same key gets the stored answer; one booking', async () => {
    const body = JSON.stringify({
      albergue_id: 'alb-crash',
      guest: { guest_id: 'g-9', name: 'Ana', email: 'ana@example.org', locale: 'es' },
      check_in: day(30),
      check_out: day(31),
      beds: 1,
    });
    const headers = { 'content-type': 'application/json', 'idempotency-key': newEventId() };
    const doomed = await child(true);
    const exited = new Promise((r) => doomed.proc.once('exit', r));
    await assert.rejects(fetch(`${doomed.base}/bookings`, { method: 'POST', headers, body }), 'the process died before answering');
    await exited;
    assert.equal(doomed.proc.signalCode, 'SIGKILL');

    const { base, proc } = await child(false);
    try {
      const retry = await fetch(`${base}/bookings`, { method: 'POST', headers, body });
      assert.equal(retry.status, 201);
      assert.equal(retry.headers.get('idempotent-replayed'), 'true');
      const booking = (await retry.json()) as { booking_id: string };
      const db = new PgDatabase(url.toString(), { max: 1 });
      try {
        const rows = (await db.query<{ booking_id: string }>('SELECT booking_id FROM bookings')).rows;
        assert.deepEqual(
          rows.map((r) => r.booking_id),
          [booking.booking_id],
        );
        const events = (
          await db.query<{ causation_id: string }>(
            `SELECT envelope->>'causation_id' AS causation_id FROM outbox_events WHERE envelope->>'event_type' = 'BookingReserved'`,
          )
        ).rows;
        assert.deepEqual(
          events.map((e) => e.causation_id),
          [retry.headers.get('x-command-id')],
          "the stored command id is the event's cause",
        );
      } finally {
        await db.close();
      }
    } finally {
      proc.kill('SIGTERM');
    }
  });
});
