// The payment process SIGKILLed mid-charge: after the charge attempt was committed and the card
// network took the charge, before the network's answer reached payment. After a restart the payment
// settles with no client action (the recovery sweep asks the network by the attempt's idempotency
// key). Real Postgres, a Mosquitto of its own, payment as child processes.
import { strict as assert } from 'node:assert';
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { BookingReserved, newEnvelope, newEventId } from '@albergue/events';
import type { EventEnvelope } from '@albergue/events';
import type { TestBroker } from '@albergue/messaging/testing';
import { startMosquitto } from '@albergue/messaging/testing';
import { migrate, OUTBOX_MIGRATIONS, PgDatabase } from '@albergue/outbox';
import {
  initiatePaymentOnBookingReserved,
  PAYMENT_MIGRATIONS,
  PgPaymentRepository,
  SIMULATED_CARD_NETWORK_MIGRATIONS,
} from '@albergue/payment';
import { freePort, uniqueName, waitFor } from '@albergue/platform/testing';

import { observeEvents } from './guest.js';

const PG = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const root = new URL('../..', import.meta.url).pathname;

interface Child {
  readonly proc: ChildProcess;
  readonly url: string;
  output: string;
}

describe('payment killed mid-charge', () => {
  let broker: TestBroker;
  let observer: Awaited<ReturnType<typeof observeEvents>> | undefined;
  const admin = new pg.Client({ connectionString: PG });
  const dbName = uniqueName('payment_crash').toLowerCase();
  const dbUrl = PG.replace(/\/[^/]*$/, `/${dbName}`);
  let db: PgDatabase;
  const seen = (): EventEnvelope[] => observer?.seen ?? [];
  const children: Child[] = [];

  async function startPayment(instance: string, extraEnv: Record<string, string>): Promise<Child> {
    const port = await freePort();
    const proc = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', 'services/payment/src/main.ts'], {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        DATABASE_URL: dbUrl,
        MQTT_URL: broker.url,
        PAYMENT_PORT: String(port),
        INSTANCE_ID: instance,
        PAYMENT_SIM_LATENCY_MS: '3000',
        PAYMENT_RECONCILE_AFTER_MS: '300',
        PAYMENT_RECONCILE_SWEEP_MS: '100',
        LOG_LEVEL: 'warn',
        ...extraEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const child: Child = { proc, url: `http://127.0.0.1:${port}`, output: '' };
    proc.stdout?.on('data', (d: Buffer) => (child.output += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (child.output += d.toString()));
    children.push(child);
    await waitFor(
      async () => {
        if (proc.exitCode !== null) throw new Error(`payment exited: ${child.output}`);
        return (await fetch(`${child.url}/health`).catch(() => undefined))?.status === 200;
      },
      { timeoutMs: 60_000, intervalMs: 100, message: `payment instance ${instance} to be ready` },
    );
    return child;
  }

  before(async () => {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    db = new PgDatabase(dbUrl);
    await migrate(db, [...OUTBOX_MIGRATIONS, ...PAYMENT_MIGRATIONS, ...SIMULATED_CARD_NETWORK_MIGRATIONS]);
    broker = await startMosquitto();
    observer = await observeEvents(broker.url, 'albergue/payment/#');
  });

  after(async () => {
    for (const c of children) {
      if (c.proc.exitCode === null && c.proc.signalCode === null) {
        c.proc.kill('SIGTERM');
        await once(c.proc, 'exit');
      }
    }
    await observer?.close();
    await broker?.close();
    await db?.close();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  });

  test('SIGKILL after the attempt is recorded and the network took the charge → after a restart the payment settles by itself, charged once', async () => {
    // A payment to make (as BookingReserved would start it).
    const bookingId = uniqueName('bk');
    const reserved = newEnvelope(BookingReserved, {
      booking_id: bookingId,
      albergue_id: 'alb-1',
      guest: { guest_id: 'g-1', name: 'Ana', email: 'ana@example.org', locale: 'es' },
      check_in: '2030-06-01',
      check_out: '2030-06-02',
      beds: 1,
      total: { amount_minor: 1200, currency: 'EUR' },
      hold_expires_at: new Date(Date.now() + 3_600_000).toISOString(),
    });
    const repo = new PgPaymentRepository(db);
    await repo.transaction((tx) =>
      initiatePaymentOnBookingReserved(
        { clock: { now: () => new Date() }, ids: newEventId, provider: { name: 'simulated-card-network' } },
        tx,
        reserved,
      ),
    );
    const {
      rows: [payment],
    } = await db.query<{ payment_id: string }>('SELECT payment_id FROM payments WHERE booking_id = $1', [bookingId]);
    assert.ok(payment);

    // The network answers the charge only after a minute: the process is killed before that.
    const first = await startPayment('crash-1', { PAYMENT_SIM_ANSWER_DELAY_MS: '60000' });
    const charging = fetch(`${first.url}/payments/${payment.payment_id}/charge`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ payment_method: '4242424242424242' }),
    }).then(
      (r) => r.status,
      (err: unknown) => err,
    );
    await waitFor(
      async () => {
        const a = await db.query('SELECT 1 FROM charge_attempts WHERE payment_id = $1 AND status = $2', [payment.payment_id, 'pending']);
        const c = await db.query('SELECT 1 FROM sim_card_network_charges WHERE payment_id = $1', [payment.payment_id]);
        return a.rowCount === 1 && c.rowCount === 1;
      },
      { timeoutMs: 20_000, message: 'the attempt recorded and the charge taken' },
    );
    first.proc.kill('SIGKILL');
    await once(first.proc, 'exit');
    assert.equal(first.proc.signalCode, 'SIGKILL');
    assert.ok(!(typeof (await charging) === 'number'), 'the client never got an answer');

    const before = await db.query<{ status: string }>('SELECT status FROM payments WHERE payment_id = $1', [payment.payment_id]);
    assert.deepEqual(before.rows, [{ status: 'initiated' }], 'nothing settled before the crash');

    // Restart (no client action follows): the recovery sweep finds the attempt and asks the network.
    await startPayment('crash-2', {});
    const confirmed = await waitFor(
      () =>
        seen().find((e) => e.event_type === 'PaymentConfirmed' && (e.payload as { payment_id: string }).payment_id === payment.payment_id),
      {
        timeoutMs: 30_000,
        message: 'PaymentConfirmed published after the restart',
      },
    );
    assert.equal(confirmed.correlation_id, reserved.correlation_id);
    const after = await db.query<{ status: string }>('SELECT status FROM charge_attempts WHERE payment_id = $1', [payment.payment_id]);
    assert.deepEqual(after.rows, [{ status: 'succeeded' }]);
    const charges = await db.query('SELECT 1 FROM sim_card_network_charges WHERE payment_id = $1', [payment.payment_id]);
    assert.equal(charges.rowCount, 1, 'charged once');
    assert.equal(
      seen().filter((e) => e.event_type === 'PaymentConfirmed' && (e.payload as { payment_id: string }).payment_id === payment.payment_id)
        .length,
      1,
    );
  });
});
