// /health of a service runtime says why it is not ready: a broker refusing the password (and the
// service reconnecting by itself once it accepts again).
import { strict as assert } from 'node:assert';
import { after, before, test } from 'node:test';
import { BookingReserved, PaymentInitiated } from '@albergue/events';
import { declareService } from '@albergue/messaging';
import { startAedes } from '@albergue/messaging/testing';
import type { TestAedes } from '@albergue/messaging/testing';
import { PgDatabase } from '@albergue/outbox';
import { PG_ADMIN_URL } from '@albergue/outbox/test-databases';
import { createLogger } from '@albergue/platform';
import { uniqueName, waitFor } from '@albergue/platform/testing';
import { createServiceRuntime } from './runtime.js';
import type { ServiceRuntime } from './runtime.js';

let broker: TestAedes;
let refuse = false;
let refusals = 0;
const dbName = uniqueName('health_rt').toLowerCase();
let runtime: ServiceRuntime | undefined;

async function admin(sql: string): Promise<void> {
  const db = new PgDatabase(PG_ADMIN_URL, { max: 1 });
  try {
    await db.exec(sql);
  } finally {
    await db.close();
  }
}

before(async () => {
  broker = await startAedes();
  broker.broker.authenticate = (_client, _username, password, done) => {
    if (refuse || password?.toString() !== 'right-password') {
      refusals++;
      done(Object.assign(new Error('bad username or password'), { returnCode: 4 }), false);
      return;
    }
    done(null, true);
  };
  await admin(`CREATE DATABASE "${dbName}"`);
});

after(async () => {
  await runtime?.close();
  await broker.close();
  await admin(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
});

test('/health: a CONNACK refusal makes the service not ready with the reason; it reconnects by itself when the broker accepts again', async () => {
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${dbName}`;
  const declaration = declareService({
    service: 'payment',
    context: 'payment',
    publishes: [PaymentInitiated],
    subscribes: [{ event: BookingReserved, handler: 'chargeOnBookingReserved' }],
  });
  runtime = await createServiceRuntime({
    declaration,
    defaultPort: 0,
    migrations: [],
    logger: createLogger('payment', { level: 'silent' }),
    config: {
      port: 0,
      databaseUrl: url.toString(),
      mqttUrl: broker.url,
      mqttUsername: 'payment',
      mqttPassword: 'right-password',
      redisUrl: undefined,
    },
  });
  runtime.on(BookingReserved, 'chargeOnBookingReserved', async () => Promise.resolve());
  const base = await runtime.start();
  const health = async () => {
    const res = await fetch(`${base}/health`);
    return { status: res.status, body: (await res.json()) as { status: string; checks: Record<string, string> } };
  };
  assert.equal((await health()).status, 200);

  refuse = true;
  broker.disconnectAll();
  const down = await waitFor(
    async () => {
      const h = await health();
      return h.status === 503 && /connack refused/.test(h.body.checks.mqtt ?? '') && /connack refused/.test(h.body.checks.consumers ?? '')
        ? h
        : undefined;
    },
    { message: '/health not ready with the reason' },
  );
  assert.equal(down.body.status, 'not_ready');
  assert.match(down.body.checks.mqtt!, /^down: connack refused: bad username or password/);
  assert.match(down.body.checks.consumers!, /^down: mqtt: connack refused: bad username or password/);
  assert.equal(down.body.checks.database, 'up');
  const before = refusals;
  await waitFor(() => refusals >= before + 2, { message: 'still retrying after refusals' });

  refuse = false;
  await waitFor(async () => (await health()).status === 200, { message: 'ready again without a restart', timeoutMs: 15_000 });
});
